"""End to end on the tiny budget: the real DVC, Prefect and MLflow, in a throwaway git repo.

One tiny `visionops run` (the `tiny_pipeline` fixture) is shared: the tests that read it come first, the one that
changes a param last."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from visionops import params as project_params

pytestmark = pytest.mark.slow

STAGES = [
    "fetch",
    "prepare",
    "train@standard",
    "train@robust",
    "export@standard",
    "export@robust",
    "evaluate@standard",
    "evaluate@robust",
    "robustness",
    "register@standard",
    "register@robust",
    "gan_train@dcgan",
    "gan_train@cgan",
    "gan_export@dcgan",
    "gan_export@cgan",
    "gan_evaluate",
    "gan_register@dcgan",
    "gan_register@cgan",
    "scenes",
    "caption_train@show_tell",
    "caption_train@attention",
    "caption_export@show_tell",
    "caption_export@attention",
    "caption_evaluate",
    "caption_register@show_tell",
    "caption_register@attention",
    "cluttered_scenes",
    "segment_train@deconvnet",
    "segment_train@fcn",
    "segment_export@deconvnet",
    "segment_export@fcn",
    "segment_evaluate",
    "segment_register@deconvnet",
    "segment_register@fcn",
    "detect_train@maskrcnn",
    "detect_export@maskrcnn",
    "detect_evaluate",
    "detect_register@maskrcnn",
    "questions",
    "vqa_train@blind",
    "vqa_train@cnn_lstm",
    "vqa_train@film",
    "vqa_export@blind",
    "vqa_export@cnn_lstm",
    "vqa_export@film",
    "vqa_symbolic",
    "vqa_evaluate",
    "vqa_register@cnn_lstm",
    "vqa_register@film",
    "report",
]


def test_the_flow_runs_every_stage_under_one_parent_run_with_a_child_run_per_stage(tiny_pipeline):
    from mlflow import MlflowClient

    project, outcome = tiny_pipeline
    assert outcome == {s: "ran" for s in STAGES}
    assert list(outcome) == STAGES  # dvc.yaml's order

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("visionops")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("visionops.stage") == "pipeline"]
    assert len(parents) == 1
    parent = parents[0]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout
    assert parent.info.run_name == f"tiny {head[:7]}: all {len(STAGES)} stages ran"  # the budget, the commit, what ran
    assert parent.data.tags["visionops.noop"] == "false"
    shown = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert shown == {"report/index.html", "report/index.png"}  # the report and a screenshot of it
    assert parent.data.tags["prefect_flow_run_id"]
    assert parent.info.status == "FINISHED"
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == set(STAGES) - {
        "fetch",
        "prepare",
        "scenes",
        "cluttered_scenes",
        "questions",
        "report",
    }  # data stages open no MLflow run, nor does the report (it goes to the parent run)
    data_md5 = next(o["md5"] for o in yaml.safe_load((project / "dvc.lock").read_text())["stages"]["prepare"]["outs"])
    assert parent.data.tags["data_version"] == data_md5
    for child in children.values():
        assert child.data.tags["prefect_flow_run_id"] == parent.data.tags["prefect_flow_run_id"]
        assert child.data.tags["data_version"] == data_md5
        assert len(child.data.tags["git_commit"].split("-")[0]) == 40

    train = children["train@standard"]
    assert train.data.params["classifier.epochs"] == "1"
    assert {"val/acc", "train/loss_epoch", "test/acc"} <= set(train.data.metrics)
    # counts are tags, not one-bar charts of constants
    assert not {"summary/parameters", "summary/epochs", "summary/train_images"} & set(train.data.metrics)
    assert int(train.data.tags["summary/parameters"]) > 1000 and train.data.tags["summary/epochs"] == "1"
    robust_train = children["train@robust"]
    assert robust_train.data.params["classifier.adversarial.method"] == "fgsm_rs"
    assert "val/pgd_acc" in robust_train.data.metrics  # (train/eps is logged every 50 steps; tiny runs 20)
    evaluate_artifacts = {
        a.path for a in client.list_artifacts(children["evaluate@standard"].info.run_id, "evaluation")
    }
    assert "evaluation/confusion.png" in evaluate_artifacts and "evaluation/explanations.png" in evaluate_artifacts
    robustness = children["robustness"]
    assert "robust/pgd_headline" in robustness.data.metrics and "standard/pgd_acc" in robustness.data.metrics
    assert robustness.data.tags["sanity.robust.large_eps_near_zero"].startswith("pass")
    robustness_artifacts = {a.path for a in client.list_artifacts(robustness.info.run_id, "robustness")}
    assert {"robustness/robust_accuracy.png", "robustness/examples_robust.png"} <= robustness_artifacts

    accuracy = json.loads((project / "reports" / "standard" / "metrics.json").read_text())["accuracy"]
    assert parent.data.metrics["classifier/standard_test_accuracy"] == pytest.approx(accuracy)
    assert "classifier/robust_pgd_accuracy" in parent.data.metrics
    # one section per family in MLflow's chart view: it groups a run's metrics by what comes before the last `/`
    families = {"classifier", "gan", "captioning", "segmentation", "detection", "vqa"}
    assert {key.rsplit("/", 1)[0] for key in parent.data.metrics} == families
    # the tiny budget registers under its own alias, marked as tiny, and never promotes (registry.promote: false)
    tiny = client.get_model_version_by_alias("visionops-classifier", "tiny")
    assert str(tiny.version) == "1" and tiny.tags["budget"] == "tiny"
    assert float(tiny.tags["test_accuracy"]) == pytest.approx(accuracy, abs=1e-6)
    assert "tiny budget" in tiny.description and f"test_accuracy {accuracy:.4f}" in tiny.description
    standard = json.loads((project / "reports" / "standard" / "registry.json").read_text())
    assert standard["promoted"] is False and standard["reason"].startswith("registry.promote is false for 'tiny'")
    assert children["register@standard"].data.tags["verdict"].endswith(f"no champion yet ({standard['reason']})")
    for alias in ("champion", "challenger"):
        with pytest.raises(Exception, match=alias):
            client.get_model_version_by_alias("visionops-classifier", alias)
    robust = json.loads((project / "reports" / "robust" / "registry.json").read_text())
    assert robust["promoted"] is False
    assert str(client.get_model_version_by_alias("visionops-robust-classifier", "tiny").version) == "1"
    with pytest.raises(Exception, match="champion"):
        client.get_model_version_by_alias("visionops-robust-classifier", "champion")

    gan_train = children["gan_train@cgan"]
    assert {"train/d_loss_step", "train/g_loss_step", "train/d_grad_norm_step"} <= set(gan_train.data.metrics)
    gan_artifacts = {a.path for a in client.list_artifacts(gan_train.info.run_id)}
    assert "samples" in gan_artifacts  # the per-epoch grids (MLflow images) and the final one
    gan_evaluate = children["gan_evaluate"]
    assert {"dcgan/fd_ratio", "cgan/fd_ratio", "cgan/conditional_accuracy", "floor/fd"} <= set(
        gan_evaluate.data.metrics
    )
    assert gan_evaluate.data.tags["feature_classifier.registered"] == "visionops-classifier v1"
    assert "gan/cgan_conditional_accuracy" in parent.data.metrics and "gan/dcgan_fd_ratio" in parent.data.metrics
    assert str(client.get_model_version_by_alias("visionops-generator", "tiny").version) == "2"

    caption_train = children["caption_train@attention"]
    assert caption_train.data.params["attention_captioner.decoder"] == "attention"
    assert {"train/loss_step", "val/loss", "val/word_acc"} <= set(caption_train.data.metrics)
    caption_evaluate = children["caption_evaluate"]
    compared = {
        f"{m}/{split}/beam/{k}"
        for m in ("show_tell", "attention")
        for split in ("test", "heldout")
        for k in ("bleu_4", "cider_d", "rouge_l", "truthfulness", "errors/wrong_class")
    }
    assert compared <= set(caption_evaluate.data.metrics)  # the two captioners side by side in one run
    assert caption_evaluate.data.metrics["attention/test/ort_torch_identical"] == 1.0
    assert {"deconvnet/miou", "fcn/miou", "fcn/images_per_second_batch1"} <= set(
        children["segment_evaluate"].data.metrics
    )
    assert (
        "segmentation/deconvnet_test_miou" in parent.data.metrics
        and "segmentation/fcn_test_miou" in parent.data.metrics
    )
    assert {"maskrcnn/box_map50", "maskrcnn/mask_map50", "rcnn/box_map50", "rcnn/images_per_second_batch1"} <= set(
        children["detect_evaluate"].data.metrics
    )
    assert (
        "detection/maskrcnn_test_box_map50" in parent.data.metrics
        and "detection/rcnn_test_box_map50" in parent.data.metrics
    )
    compared = {f"{m}/{k}" for m in ("blind", "cnn_lstm", "film", "symbolic") for k in ("accuracy", "heldout_gap")}
    assert compared <= set(children["vqa_evaluate"].data.metrics)  # the four VQA models side by side in one run
    assert "vqa/film_test_accuracy" in parent.data.metrics and "vqa/symbolic_heldout_accuracy" in parent.data.metrics
    assert (
        "captioning/attention_test_truthfulness" in parent.data.metrics
        and "captioning/show_tell_heldout_truthfulness" in parent.data.metrics
    )
    version = client.get_model_version_by_alias("visionops-captioner", "tiny")
    assert str(version.version) == "2" and version.tags["model"] == "attention"
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert sorted(lock["stages"]) == sorted(STAGES)


def test_the_flow_leaves_every_model_report_and_registration_a_user_looks_for(tiny_pipeline):
    project, _ = tiny_pipeline
    for model in ("standard", "robust"):
        metrics = json.loads((project / "reports" / model / "metrics.json").read_text())
        assert 0.0 <= metrics["accuracy"] <= 1.0 and len(metrics["per_class"]) == 10
        assert (project / "data" / "models" / model / "classifier.onnx").stat().st_size > 0
        for figure in ("confusion.png", "mistakes.png", "explanations.png"):
            assert (project / "reports" / model / "evaluation" / figure).stat().st_size > 0
        assert json.loads((project / "reports" / model / "registry.json").read_text())["version"] == "1"
    robustness = json.loads((project / "reports" / "robustness.json").read_text())
    assert robustness["images"] == 64  # the tiny budget's
    for model in ("standard", "robust"):
        assert all(robustness[model]["sanity"].values())
        assert robustness[model]["transfer_gap"] <= 0.002
    for figure in ("robust_accuracy.png", "examples_standard.png", "examples_robust.png", "curve.csv"):
        assert (project / "reports" / "robustness" / figure).stat().st_size > 0
    gan = json.loads((project / "reports" / "gan.json").read_text())
    assert gan["feature_classifier"]["registered"] == "visionops-classifier v1"
    for model in ("dcgan", "cgan"):
        assert gan[model]["fd_ratio"] == pytest.approx(gan[model]["fd"] / gan["floor"]["fd"])
        assert 0 <= gan[model]["precision"] <= 1 and 0 <= gan[model]["recall"] <= 1
        assert (project / "data" / "models" / model / "generator.onnx").stat().st_size > 0
        for figure in (f"classes_{model}.png", f"interpolation_{model}.png", f"neighbours_{model}.png"):
            assert (project / "reports" / "gan" / figure).stat().st_size > 0
    assert len(gan["cgan"]["fd_per_class"]) == 10 and "conditional_accuracy" not in gan["dcgan"]
    registrations = [json.loads((project / "reports" / m / "registry.json").read_text()) for m in ("dcgan", "cgan")]
    assert [r["version"] for r in registrations] == ["1", "2"]  # one registered generator, both compete for it
    assert not any(r["promoted"] for r in registrations)  # the tiny budget never makes a champion
    assert all(r["reason"].startswith("registry.promote is false for 'tiny'") for r in registrations)
    scenes = json.loads((project / "data" / "scenes" / "manifest.json").read_text())
    assert {k: v["scenes"] for k, v in scenes["splits"].items()} == {"train": 400, "val": 50, "test": 60, "heldout": 40}
    assert scenes["canvas"] == [1, 56, 56] and scenes["heldout_combinations"]
    captioning = json.loads((project / "reports" / "captioning.json").read_text())
    for model in ("show_tell", "attention"):
        for split in ("test", "heldout"):
            result = captioning[model][split]
            assert result["ort_torch_identical"] == 1.0  # greedy captions: onnxruntime and torch agree on every scene
            for decoding in ("greedy", "beam"):
                assert 0 <= result[decoding]["truthfulness"] <= 1 and 0 <= result[decoding]["bleu_4"] <= 1
        assert (project / "reports" / "captioning" / f"examples_{model}.png").stat().st_size > 0
        assert (project / "data" / "models" / model / "decoder_step.onnx").stat().st_size > 0
    assert (project / "reports" / "captioning" / "attention_attention.png").stat().st_size > 0
    captioners = [
        json.loads((project / "reports" / m / "registry.json").read_text()) for m in ("show_tell", "attention")
    ]
    assert [r["version"] for r in captioners] == ["1", "2"] and [r["name"] for r in captioners] == [
        "visionops-captioner"
    ] * 2
    assert not any(r["promoted"] for r in captioners)  # the tiny budget never promotes
    cluttered = json.loads((project / "data" / "cluttered_scenes" / "manifest.json").read_text())
    assert {k: v["scenes"] for k, v in cluttered["splits"].items()} == {"train": 200, "val": 40, "test": 60}
    segmentation = json.loads((project / "reports" / "segmentation.json").read_text())
    for model in ("deconvnet", "fcn"):
        result = segmentation[model]
        assert (
            0 <= result["miou"] <= 1 and len(result["iou_per_class"]) == 10 and result["images_per_second_batch1"] > 0
        )
        export = json.loads((project / "reports" / model / "export.json").read_text())
        assert max(export["parity"]["max_abs"].values()) <= 1e-4
    for figure in ("maps.png", "iou_per_class.png"):
        assert (project / "reports" / "segmentation" / figure).stat().st_size > 0
    segmenters = [json.loads((project / "reports" / m / "registry.json").read_text()) for m in ("deconvnet", "fcn")]
    assert [(r["name"], r["version"]) for r in segmenters] == [
        ("visionops-segmenter", "1"),
        ("visionops-segmenter", "2"),
    ]
    assert not any(r["promoted"] for r in segmenters)  # the tiny budget never promotes
    detection = json.loads((project / "reports" / "detection.json").read_text())
    for model in ("maskrcnn", "rcnn"):
        result = detection[model]
        assert 0 <= result["box_map50"] <= 1 and len(result["box_ap_per_class"]) == 10
        assert result["images_per_second_batch1"] > 0 and result["items_small"] + result["items_large"] > 0
    assert 0 <= detection["maskrcnn"]["mask_map50"] <= 1 and "mask_map50" not in detection["rcnn"]  # R-CNN: boxes only
    parity = json.loads((project / "reports" / "maskrcnn" / "export.json").read_text())["parity"]
    assert parity["scenes"] == 11 and parity["scenes_differing"] == 0  # ten test scenes and the empty one
    for figure in ("detections.png", "ap_per_class.png"):
        assert (project / "reports" / "detection" / figure).stat().st_size > 0
    detector = json.loads((project / "reports" / "maskrcnn" / "registry.json").read_text())
    assert (detector["name"], detector["version"], detector["promoted"]) == ("visionops-detector", "1", False)
    questions = json.loads((project / "data" / "questions" / "manifest.json").read_text())
    assert set(questions["splits"]) == {"train", "val", "test", "heldout"} and "yes" in questions["answers"]
    assert set(questions["splits"]["heldout"]["per_type"]) <= {"relation", "query_relation"}
    vqa = json.loads((project / "reports" / "vqa.json").read_text())
    for model in ("blind", "cnn_lstm", "film", "symbolic"):
        result = vqa[model]
        assert 0 <= result["accuracy"] <= 1 and 0 <= result["heldout_accuracy"] <= 1
        assert set(result["test"]["per_type"]) == set(questions["splits"]["test"]["per_type"])
    assert vqa["symbolic"]["wrong_on_scenes_read_right"] == 0  # every program error is the detector's
    for model in ("blind", "cnn_lstm", "film"):
        export = json.loads((project / "reports" / model / "export.json").read_text())
        assert max(export["parity"]["max_abs"].values()) <= 1e-4
    for figure in ("per_type.png", "examples.png", "confusion_film.png"):
        assert (project / "reports" / "vqa" / figure).stat().st_size > 0
    answerers = [json.loads((project / "reports" / m / "registry.json").read_text()) for m in ("cnn_lstm", "film")]
    assert [(r["name"], r["version"]) for r in answerers] == [("visionops-vqa", "1"), ("visionops-vqa", "2")]
    assert not any(r["promoted"] for r in answerers)  # the tiny budget never promotes


def test_the_registered_models_answer_through_models_uris_as_their_files_do(tiny_pipeline, tmp_path, run_command):
    from PIL import Image

    project, _ = tiny_pipeline
    visionops = str(Path(sys.executable).with_name("visionops"))
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "item.png")
    Image.fromarray(np.zeros((56, 56), np.uint8)).save(tmp_path / "scene.png")
    for command, image, uri, model in (
        ("predict", "item.png", "models:/visionops-classifier@tiny", "data/models/standard/classifier.onnx"),
        ("caption", "scene.png", "models:/visionops-captioner@tiny", "data/models/attention"),  # version 2
    ):
        args = [visionops, command, "--project", str(project), str(tmp_path / image), "--model"]
        registered = run_command([*args, uri], tmp_path)
        assert registered.returncode == 0, registered.stderr
        assert registered.stdout == run_command([*args, str(project / model)], tmp_path).stdout
    missing = run_command([visionops, "predict", "--project", str(project), str(tmp_path / "item.png"),
                           "--model", "models:/visionops-classifier@nobody"], tmp_path)  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "not found in the registry" in missing.stderr


def test_dvc_finds_nothing_stale_after_the_flow_and_reruns_only_what_a_param_touches(tiny_pipeline, run_command):
    from mlflow import MlflowClient

    from pipelines.pipeline import pipeline

    project, _ = tiny_pipeline
    status = run_command([sys.executable, "-m", "dvc", "status"], project)
    assert "up to date" in status.stdout  # the flow recorded dvc.lock as dvc repro would
    again = run_command([sys.executable, "-m", "dvc", "repro"], project)
    assert again.returncode == 0 and "Running stage" not in again.stdout
    assert set(pipeline(project_dir=str(project)).values()) == {"skipped"}
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    latest = client.search_runs(
        [client.get_experiment_by_name("visionops").experiment_id],
        "tags.`visionops.stage` = 'pipeline'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert latest.info.run_name.endswith(": no-op (every stage up to date)")
    assert latest.data.tags["visionops.noop"] == "true" and latest.data.metrics == {}  # no second point per metric

    project_params.apply_overrides(project / "params.yaml", {"evaluation.mistakes": 4})
    changed = run_command([sys.executable, "-m", "dvc", "repro"], project)
    assert changed.returncode == 0, changed.stderr[-2000:]
    ran = {s for s in STAGES if f"Running stage '{s}'" in changed.stdout}
    # register's inputs (the model, the metrics) did not change; the report shows the new mistakes figures
    assert ran == {"evaluate@standard", "evaluate@robust", "report"}
    assert "up to date" in run_command([sys.executable, "-m", "dvc", "status"], project).stdout

    # a training stage is in DVC's run cache (its checkpoints are no output): another epoch count trains anew,
    # and going back to the first one restores that model instead of training it again
    model = project / "data" / "models" / "robust" / "classifier.pt"
    first, params_before = model.read_bytes(), (project / "params.yaml").read_bytes()
    epochs = project_params.load(project / "params.yaml").robust_classifier.epochs
    project_params.apply_overrides(project / "params.yaml", {"robust_classifier.epochs": epochs + 1})
    other = run_command([sys.executable, "-m", "dvc", "repro", "train@robust"], project)
    assert "Running stage 'train@robust'" in other.stdout, other.stdout[-2000:] + other.stderr[-2000:]
    assert model.read_bytes() != first
    (project / "params.yaml").write_bytes(params_before)
    back = run_command([sys.executable, "-m", "dvc", "repro", "train@robust"], project)
    assert "Stage 'train@robust' is cached - skipping run" in back.stdout, back.stdout[-2000:] + back.stderr[-2000:]
    assert model.read_bytes() == first


def test_train_stage_runs_ddp_on_two_cpu_processes(project, tmp_path, image_folder, run_command):
    from mlflow import MlflowClient

    images = image_folder(tmp_path / "user-images", per_class=16, classes=3)
    project_params.apply_overrides(
        project / "params.yaml",
        {
            "data.dataset": "imagefolder",
            "data.image_folder": str(images),
            "classifier.accelerator": "cpu",
            "classifier.devices": 2,
            "classifier.strategy": "ddp",
        },
    )
    result = run_command([sys.executable, "-m", "dvc", "repro", "train@standard"], project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "data" / "models" / "standard" / "classifier.pt").is_file()
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("visionops").experiment_id])
    assert [r.info.run_name for r in runs] == ["train@standard"]  # rank 1 trains but does not open a run of its own
    assert runs[0].info.status == "FINISHED" and "val/acc" in runs[0].data.metrics


def test_a_failing_stage_fails_the_flow_with_its_own_error_line(
    project, prefect_harness, monkeypatch, tmp_path, idx_arrays
):
    import gzip

    from mlflow import MlflowClient

    from pipelines.pipeline import run_pipeline
    from visionops.core.errors import UserError
    from visionops.data.idx import encode_idx

    mirror = tmp_path / "not-fashion-mnist"
    mirror.mkdir()
    for name, array in idx_arrays().items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(encode_idx(array)))
    monkeypatch.setenv("VISIONOPS_FMNIST_DIR", str(mirror))
    with pytest.raises(
        UserError, match=r"^stage 'fetch' failed: .*not-fashion-mnist.*SHA-256 of the decompressed bytes"
    ):
        run_pipeline(project)
    assert not (project / "data" / "raw").exists()
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("visionops").experiment_id])
    assert [(r.info.run_name.split(": ")[-1], r.info.status, r.data.tags.get("failed_stage")) for r in runs] == [
        ("fetch failed", "FAILED", "fetch")
    ]
