"""A checkpoint resumes only the run it belongs to: same params, same inputs, same code; an unreadable one is set
aside with one warning instead of failing every rerun."""

import json

import torch

from visionops.classifier.params import ClassifierParams
from visionops.core import lightning
from visionops.core.lightning import FINGERPRINT_FILE, fingerprint, resumable_checkpoint


def _unfinished(ckpt, expected, payload=None):
    ckpt.mkdir(exist_ok=True)
    torch.save(payload if payload is not None else {"state_dict": {}, "epoch": 1}, ckpt / "last.ckpt")
    (ckpt / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": expected}))


def test_params_inputs_and_code_each_change_the_fingerprint(monkeypatch):
    params = ClassifierParams()
    base = fingerprint(params, "data", family="classifier")
    assert fingerprint(params, "data", family="classifier") == base
    assert fingerprint(params.model_copy(update={"lr": 0.01}), "data", family="classifier") != base
    assert fingerprint(params, "other data or encoder weights", family="classifier") != base
    monkeypatch.setattr(lightning, "code_digest", lambda family: "edited code")
    assert fingerprint(params, "data", family="classifier") != base


def test_a_matching_readable_checkpoint_resumes(tmp_path):
    _unfinished(tmp_path / "c", "fp")
    assert resumable_checkpoint(tmp_path / "c", "fp") == tmp_path / "c" / "last.ckpt"
    assert resumable_checkpoint(tmp_path / "c", "another run") is None
    assert not (tmp_path / "c" / "last.ckpt").exists()  # stale: removed


def test_a_truncated_checkpoint_is_set_aside_with_one_warning(tmp_path, capsys):
    _unfinished(tmp_path / "c", "fp")
    data = (tmp_path / "c" / "last.ckpt").read_bytes()
    (tmp_path / "c" / "last.ckpt").write_bytes(data[: len(data) // 2])
    assert resumable_checkpoint(tmp_path / "c", "fp") is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "cannot be read; set aside as last.ckpt.unreadable" in out
    assert (tmp_path / "c" / "last.ckpt.unreadable").exists() and not (tmp_path / "c" / "last.ckpt").exists()
