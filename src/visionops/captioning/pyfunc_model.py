"""The registered captioner as an MLflow model from code: MLflow runs this file to build the model when it logs and
when it loads `models:/visionops-captioner@...`, so nothing is unpickled (visionops.captioning.serving logs it)."""

from mlflow.models import set_model

from visionops.captioning.serving import CaptionerModel

set_model(CaptionerModel())
