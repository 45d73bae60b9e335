"""No file a stage or command reads can run code: every checkpoint and model load in src/ is weights-only, and no
model is pickled (the registered captioner is logged from code)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "visionops"


def _calls(name: str):
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                yield path, node


def _weights_only(call: ast.Call) -> bool:
    return any(
        k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords
    )


def test_every_torch_load_is_weights_only():
    loads = [(p, c) for p, c in _calls("load") if isinstance(c.func.value, ast.Name) and c.func.value.id == "torch"]
    assert loads, "expected the model and checkpoint loads of src/"
    unsafe = [f"{p.relative_to(SRC)}:{c.lineno}" for p, c in loads if not _weights_only(c)]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_every_lightning_resume_is_weights_only():
    resumes = [(p, c) for p, c in _calls("fit") if any(k.arg == "ckpt_path" for k in c.keywords)]
    assert resumes, "expected the trainers' resumes"
    unsafe = [f"{p.relative_to(SRC)}:{c.lineno}" for p, c in resumes if not _weights_only(c)]
    assert not unsafe, f"Trainer.fit(ckpt_path=...) without weights_only=True: {unsafe}"


def test_nothing_is_pickled():
    text = {p: p.read_text() for p in SRC.rglob("*.py")}
    assert not [p for p, t in text.items() if "cloudpickle" in t or "import pickle" in t or "pickle.load" in t]
    python_models = [(p, c) for p, c in _calls("log_model") if any(k.arg == "python_model" for k in c.keywords)]
    for path, call in python_models:
        [value] = [k.value for k in call.keywords if k.arg == "python_model"]
        # a path to the model's code (models from code), never an object MLflow would pickle
        assert isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "str", (
            f"{path.relative_to(SRC)}:{call.lineno}: python_model must be the path of a code file"
        )
