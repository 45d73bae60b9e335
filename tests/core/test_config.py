import shutil
from pathlib import Path

import pytest
import yaml

from visionops import params as project_params
from visionops.classifier.params import ClassifierParams
from visionops.core import config
from visionops.core.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def test_project_params_are_valid_and_default_to_the_cpu_budget():
    params = project_params.load(REPO / "params.yaml")
    assert set(params.budgets) == {"tiny", "cpu", "gpu"}
    current = config.flatten(params.model_dump(exclude={"budgets"}, mode="json"))
    for key, value in params.budgets["cpu"].items():
        assert current[key] == (list(value) if isinstance(value, tuple) else value), key


def test_every_budget_sets_the_same_keys():
    params = project_params.load(REPO / "params.yaml")
    keys = {budget: set(overrides) for budget, overrides in params.budgets.items()}
    assert keys["tiny"] == keys["cpu"] == keys["gpu"]


def _raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_unknown_key_is_named_with_the_allowed_ones():
    raw = _raw()
    raw["classifier"]["epoch"] = 3
    with pytest.raises(UserError, match=r"unknown key 'classifier.epoch' \(allowed here: network, .*epochs"):
        project_params.validate(raw)


def test_unknown_section_is_refused():
    raw = _raw()
    raw["detektor"] = {"epochs": 1}
    with pytest.raises(UserError, match="unknown key 'detektor'"):
        project_params.validate(raw)


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("classifier", "epochs", 0, r"classifier.epochs: Input should be greater than or equal to 1 \(got 0\)"),
        ("classifier", "network", "vgg", r"classifier.network: Input should be 'lenet5' or 'resnet'"),
        ("data", "val_fraction", 1.5, r"data.val_fraction: Input should be less than 1"),
        ("schedule", "cron", "daily", r"schedule.cron: .*five fields"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_range(section, key, value, expected):
    raw = _raw()
    raw[section][key] = value
    with pytest.raises(UserError, match=expected):
        project_params.validate(raw)


def test_budget_overriding_a_missing_key_is_refused():
    raw = _raw()
    raw["budgets"]["tiny"]["classifier.epochz"] = 1
    with pytest.raises(UserError, match="budgets.tiny: 'classifier.epochz' is not a key"):
        project_params.validate(raw)


def test_apply_overrides_keeps_comments_and_validates_first(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text())
    project_params.apply_overrides(path, {"classifier.epochs": 2, "classifier.augment.flip": False})
    text = path.read_text()
    assert "# The one configuration of visionops" in text
    params = project_params.load(path)
    assert params.classifier.epochs == 2 and params.classifier.augment.flip is False

    before = path.read_text()
    with pytest.raises(UserError, match="classifier.epochs"):
        project_params.apply_overrides(path, {"classifier.epochs": -1})
    with pytest.raises(UserError, match="unknown key 'classifier.nope'"):
        project_params.apply_overrides(path, {"classifier.nope": 1})
    assert path.read_text() == before


def test_parse_override_reads_yaml_values():
    assert config.parse_override("classifier.epochs=5") == ("classifier.epochs", 5)
    assert config.parse_override("classifier.resnet_widths=[8, 16, 32]") == ("classifier.resnet_widths", [8, 16, 32])
    with pytest.raises(UserError, match="section.key=value"):
        config.parse_override("classifier.epochs")


def test_every_budget_applies_to_valid_params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text())
    for budget in ("gpu", "tiny", "cpu"):
        params = project_params.apply_overrides(path, config.budget_overrides(project_params.load(path), budget))
        assert (
            config.flatten(params.model_dump(mode="json"))["classifier.epochs"]
            == params.budgets[budget]["classifier.epochs"]
        )
    assert path.read_text() == (REPO / "params.yaml").read_text()  # cpu is the default, so the round trip is exact


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("robustness", "eps", [0.0, -0.1, 0.1], "every eps must lie in \\[0, 1\\]"),
        ("robustness", "eps", [0.0, 0.1, 1.5], "every eps must lie in \\[0, 1\\]"),
        ("robustness", "pgd_steps", 0, "robustness.pgd_steps: Input should be greater than or equal to 1"),
        ("robustness", "pgd_restarts", 0, "robustness.pgd_restarts: Input should be greater than or equal to 1"),
        ("robustness", "headline_eps", 0.3, "headline_eps 0.3 must be one of eps"),
        ("robustness", "losses", ["ce", "dlr"], "robustness.losses.1: Input should be 'ce' or 'margin'"),
    ],
)
def test_bad_robustness_params_are_refused_with_the_key(section, key, value, message):
    raw = _raw()
    raw[section][key] = value
    with pytest.raises(UserError, match=message):
        project_params.validate(raw)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("eps", -0.1, "robust_classifier.adversarial.eps: Input should be greater than or equal to 0"),
        ("eps", 0.0, "eps must be > 0 for adversarial training with method fgsm_rs"),
        ("steps", 0, "robust_classifier.adversarial.steps: Input should be greater than or equal to 1"),
        ("method", "trades", "robust_classifier.adversarial.method: Input should be 'none', 'fgsm_rs' or 'pgd'"),
    ],
)
def test_bad_adversarial_training_params_are_refused(key, value, message):
    raw = _raw()
    raw["robust_classifier"]["adversarial"][key] = value
    with pytest.raises(UserError, match=message):
        project_params.validate(raw)


def test_the_robust_classifier_takes_what_it_does_not_set_from_the_classifier():
    raw = _raw()
    raw["classifier"]["batch_size"] = 77
    raw["classifier"]["augment"]["translate"] = 2
    params = project_params.validate(raw)
    robust = params.section("robust_classifier", ClassifierParams)
    assert robust.batch_size == 77 and robust.augment.translate == 2  # inherited, nested too
    assert robust.adversarial.method == "fgsm_rs" and params.classifier.adversarial.method == "none"
    assert robust.epochs == raw["robust_classifier"]["epochs"]


def test_an_unknown_robust_classifier_key_is_named():
    raw = _raw()
    raw["robust_classifier"]["epoch"] = 3
    with pytest.raises(UserError, match="unknown key 'robust_classifier.epoch'"):
        project_params.validate(raw)


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("classifier.seed", 99999999999, r"classifier.seed: Input should be less than 4294967296"),
        ("gan.seed", -1, r"gan.seed: Input should be greater than or equal to 0"),
        ("classifier.limit_train_batches", 1.5, r"classifier.limit_train_batches: .*fraction of an epoch in \(0, 1\]"),
        ("captioner.limit_train_batches", 0, r"captioner.limit_train_batches: .*whole number of batches >= 1"),
        ("classifier.accelerator", "gpus", r"classifier.accelerator: Input should be 'auto', 'cpu', 'gpu'"),
        ("classifier.strategy", "dpp", r"classifier.strategy: Input should be 'auto', 'ddp'"),
    ],
)
def test_training_keys_that_lightning_would_reject_later_are_refused_now(tmp_path, dotted, value, expected):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    before = (tmp_path / "params.yaml").read_text()
    with pytest.raises(UserError, match=expected):
        project_params.apply_overrides(tmp_path / "params.yaml", {dotted: value})
    assert (tmp_path / "params.yaml").read_text() == before  # nothing written


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("schedule.stage_retries", {"trian@standard": 1}, r"stage_retries names 'trian@standard', which is no stage"),
        ("promotion.detector", None, r"promotion.detector is a rule for a model no register stage registers"),
    ],
)
def test_keys_that_name_stages_or_models_must_name_real_ones(tmp_path, dotted, value, expected):
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    if dotted == "promotion.detector":
        raw["promotion"]["detector"] = raw["promotion"]["standard"]
    else:
        raw["schedule"]["stage_retries"] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(UserError, match=expected):
        project_params.load(tmp_path / "params.yaml")


def test_a_key_given_twice_is_refused_by_load_and_by_overrides(tmp_path):
    text = (REPO / "params.yaml").read_text().replace("  epochs: 4\n", "  epochs: 4\n  epochs: 9\n", 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(UserError, match=r"key 'epochs' is given twice \(line \d+\)"):
        project_params.load(tmp_path / "params.yaml")
    with pytest.raises(UserError, match=r"not valid YAML: found duplicate key \"epochs\""):
        project_params.apply_overrides(tmp_path / "params.yaml", {"classifier.lr": 0.01})
    assert (tmp_path / "params.yaml").read_text() == text


def test_a_run_writes_and_reports_only_the_overrides_that_change_a_value():
    from visionops.cli import changed_overrides

    current = {"classifier": {"epochs": 4, "widths": [8, 16]}, "schedule": {"stage_retries": {"fetch": 2}}}
    overrides = {
        "classifier.epochs": 4,
        "classifier.widths": [8, 16],
        "schedule.stage_retries": {"fetch": 2},
        "classifier.lr": 0.1,
        "classifier.epochs.x": 1,
        "schedule.stage_retries.fetch": 3,
    }
    assert changed_overrides(current, overrides) == {
        "classifier.lr": 0.1,
        "classifier.epochs.x": 1,
        "schedule.stage_retries.fetch": 3,
    }


def test_the_run_summary_counts_outcomes_and_names_what_ran():
    from visionops.cli import outcome_summary

    summary = outcome_summary({"fetch": "skipped", "prepare": "restored", "train@standard": "ran", "x": "skipped"})
    assert summary.splitlines() == [
        "pipeline: 4 stages",
        "  ran        1  train@standard",
        "  restored   1  prepare",
        "  skipped    2",
    ]
    assert outcome_summary({"fetch": "ran", "prepare": "ran"}).splitlines()[1] == "  ran        2  (all)"
    many = outcome_summary({f"train@model_{i}": "ran" for i in range(20)} | {"fetch": "failed"}).splitlines()
    assert many[1].startswith("  ran       20  train@model_0, ") and many[2].startswith(" " * 14 + "train@model_")
    assert max(map(len, many)) <= 114 and many[-1] == "  failed     1  fetch"
