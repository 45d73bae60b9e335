"""A stage reads only the params dvc.yaml lists for it: any other key stops it, naming the key."""

from pathlib import Path

import pytest

from visionops import params as project_params
from visionops.classifier.params import ClassifierParams
from visionops.core.errors import UserError
from visionops.core.stage import ParamsView, UndeclaredParams, declared_params

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def params():
    return project_params.load(REPO / "params.yaml")


def test_foreach_stages_get_their_item_interpolated():
    dvc_yaml = REPO / "dvc.yaml"
    assert declared_params(dvc_yaml, "train@robust") == {"classifier", "robust_classifier"}
    assert declared_params(dvc_yaml, "register@standard") == {"promotion.standard", "registry"}
    assert declared_params(dvc_yaml, "gan_register@cgan") == {"promotion.cgan", "registry"}
    assert declared_params(dvc_yaml, "robustness") == {"robustness", "evaluation.ort_threads"}


def test_an_unknown_stage_or_item_is_refused():
    with pytest.raises(UserError, match="dvc.yaml has no stage 'detect'"):
        declared_params(REPO / "dvc.yaml", "detect")
    with pytest.raises(UserError, match="has no item 'cgan'"):
        declared_params(REPO / "dvc.yaml", "register@cgan")


def test_a_whole_section_and_single_keys_can_be_declared(params):
    view = ParamsView(params, {"robustness", "evaluation.ort_threads"}, "robustness")
    assert view.robustness.headline_eps == params.robustness.headline_eps
    assert view.evaluation.ort_threads == params.evaluation.ort_threads
    assert view.evaluation.model_dump() == {"ort_threads": params.evaluation.ort_threads}
    assert view.tracking.experiment == params.tracking.experiment  # where records go: never a stage's input


def test_reading_an_undeclared_key_names_it_and_what_is_declared(params):
    view = ParamsView(params, {"robustness", "evaluation.ort_threads"}, "robustness")
    with pytest.raises(UndeclaredParams, match=r"stage robustness reads params 'evaluation.batch_size', which dvc"):
        _ = view.evaluation.batch_size
    with pytest.raises(
        UndeclaredParams, match=r"reads params 'classifier'.*it lists: evaluation.ort_threads, robustness"
    ):
        _ = view.classifier


def test_sections_and_promotion_rules_go_through_the_same_check(params):
    view = ParamsView(params, {"classifier", "promotion.standard"}, "train@standard")
    assert view.section("classifier", ClassifierParams) == params.classifier
    assert view.promotion_rule("standard").registered_model == "visionops-classifier"
    with pytest.raises(UndeclaredParams, match="robust_classifier"):
        view.section("robust_classifier", ClassifierParams)
    with pytest.raises(UndeclaredParams, match="promotion.robust"):
        view.promotion_rule("robust")


def test_every_stage_of_dvc_yaml_declares_only_keys_that_exist(params):
    import yaml

    from visionops.core.config import has_key

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    plain = params.model_dump()
    for name, entry in stages.items():
        items = entry.get("foreach", [None])
        for item in items:
            stage = name if item is None else f"{name}@{item}"
            for key in declared_params(REPO / "dvc.yaml", stage):
                assert has_key(plain, key), f"{stage} lists params '{key}', which params.yaml does not have"
