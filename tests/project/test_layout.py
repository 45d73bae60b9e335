"""The rules that keep the layout livable, each failing when it is broken (see the README's layout section)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((REPO / "src" / "visionops").rglob("*.py")), *sorted((REPO / "pipelines").rglob("*.py"))]
STAGE_MODULES = sorted(p.stem for p in (REPO / "src" / "visionops" / "stages").glob("*.py") if p.stem != "__init__")
HEAVY = ("torch", "mlflow", "pytorch_lightning", "lightning")
BLOCK_TORCH = "import sys; sys.modules['torch'] = None; "  # `import torch` now raises ImportError


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_the_import_contracts_hold():
    """Layering (import-linter, contracts in pyproject.toml): core knows no family, data only core, and so on."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_a_private_name_from_another():
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in ("visionops", "pipelines")
            ):
                found += [
                    f"{relative(path)}:{node.lineno} imports {alias.name} from {node.module}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
            elif isinstance(node, ast.Import):
                found += [
                    f"{relative(path)}:{node.lineno} imports {alias.name}"
                    for alias in node.names
                    if any(part.startswith("_") and not part.startswith("__") for part in alias.name.split("."))
                ]
    assert not found, "\n".join(found)


def test_every_package_init_holds_only_its_docstring():
    """Their code would run in every stage, and tests/project/test_dag.py does not list them as deps."""
    bad = []
    for path in SOURCES:
        if path.name == "__init__.py":
            body = ast.parse(path.read_text()).body
            docstring = len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            if not docstring:
                bad.append(relative(path))
    assert not bad, f"package __init__ files with code: {bad}"


def test_importing_any_stage_loads_no_torch_mlflow_or_lightning():
    code = (
        "import importlib, sys\n"
        f"for name in {STAGE_MODULES!r}:\n"
        "    importlib.import_module('visionops.stages.' + name)\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _main_body(path: Path) -> list[ast.stmt]:
    tree = ast.parse(path.read_text())
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    assert len(mains) == 1, f"{relative(path)} has no single main()"
    return mains[0].body


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_a_stage_module_is_its_arguments_and_one_call_into_its_family(stage):
    path = REPO / "src" / "visionops" / "stages" / f"{stage}.py"
    tree = ast.parse(path.read_text())
    top_level = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom | ast.If)]
    # besides main(): the parser it shares with the hook the pipeline's workers ask before running it in-process
    hooks = [n for n in top_level if isinstance(n, ast.FunctionDef) and n.name in ("_parser", "launches_processes")]
    top_level = [n for n in top_level if n not in hooks]
    assert [type(n).__name__ for n in top_level] == ["Expr", "FunctionDef"], "only a docstring and main()"
    family_imports, calls = [], []
    for node in _main_body(path):
        if isinstance(node, ast.ImportFrom):
            family_imports.append(node.module)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if not (isinstance(func, ast.Attribute) and func.attr == "add_argument"):
                calls.append(ast.unparse(func))
        elif not isinstance(node, ast.Assign):
            pytest.fail(f"{relative(path)}:{node.lineno}: {ast.unparse(node)[:80]} (a stage parses and calls, no more)")
    assert len(family_imports) == 1 and family_imports[0].split(".")[1] not in ("core", "stages"), family_imports
    assert len(calls) == 1, f"one call into the family, found {calls}"


def _positional(func: ast.FunctionDef) -> list[str]:
    names = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
    return [n for n in names if n not in ("self", "cls")]


def test_public_functions_with_more_than_four_parameters_take_them_by_keyword():
    offenders = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        scopes: list[tuple[str, ast.AST]] = [("", tree)]
        scopes += [(f"{n.name}.", n) for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
        for prefix, scope in scopes:
            for func in getattr(scope, "body", []):
                if not isinstance(func, ast.FunctionDef) or (func.name.startswith("_") and func.name != "__init__"):
                    continue
                total = len(_positional(func)) + len(func.args.kwonlyargs)
                if total > 4 and len(_positional(func)) > 4:
                    offenders.append(
                        f"{relative(path)}:{func.lineno} {prefix}{func.name} takes {total} parameters, "
                        f"{len(_positional(func))} of them positionally"
                    )
    assert not offenders, "put a `*` after the first few:\n" + "\n".join(offenders)


# --- onnxruntime entry points work where torch is not installed ------------------------------------------------


@pytest.fixture(scope="module")
def shipped_models(tmp_path_factory):
    """An untrained classifier, conditional generator, captioner pair, segmenter, detector and VQA network, exported
    as the pipeline ships them."""
    import torch

    from visionops.captioning.export import export_in_subprocess
    from visionops.captioning.networks import build_captioner
    from visionops.captioning.vocab import Vocab
    from visionops.classifier.export import export_onnx
    from visionops.classifier.networks import build_network
    from visionops.core.model_file import save_model
    from visionops.gan.export import export_generator
    from visionops.gan.networks import build_generator

    folder = tmp_path_factory.mktemp("shipped")
    torch.manual_seed(0)
    classes = [f"c{k}" for k in range(10)]
    net = build_network({"network": "lenet5", "num_classes": 10, "in_channels": 1, "mean": 0.2, "std": 0.3}).eval()
    export_onnx(net, folder / "classifier.onnx", image_shape=(1, 28, 28), classes=classes, opset=18)
    generator = build_generator({"latent_dim": 8, "width": 8, "num_classes": 10, "in_channels": 1}).eval()
    export_generator(generator, folder / "generator.onnx", classes=classes, opset=18)
    vocab = Vocab.build(["a small bag left of a large coat", "there is a bag"])
    spec = {
        "network": "captioner",
        "decoder": "attention",
        "encoder": "scratch",
        "classifier_spec": None,
        "in_channels": 1,
        "image_shape": [1, 56, 56],
        "mean": 0.2,
        "std": 0.3,
        "feature_dim": 16,
        "grid": 49,
        "embed_dim": 8,
        "hidden_dim": 16,
        "attention_dim": 8,
        "dropout": 0.0,
        "vocab": vocab.words,
        "max_length": 8,
        "beam_width": 2,
        "scratch_width": 4,
    }
    captioner = folder / "captioner"
    captioner.mkdir()
    save_model(captioner / "captioner.pt", spec, build_captioner(spec).state_dict())
    for part in ("encoder", "decoder_step"):
        export_in_subprocess(captioner / "captioner.pt", part, captioner / f"{part}.onnx", 18)
    from visionops.segmentation.export import export_segmenter
    from visionops.segmentation.networks import build_segmenter, segmenter_spec

    segmenter = build_segmenter(segmenter_spec("fcn", channels=1, classes=classes, width=4, mean=0.2, std=0.3))
    export_segmenter(segmenter, folder / "segmenter.onnx", classes=classes, height=56, width=56, opset=18)
    from visionops.detection.export import SingleScene, export_detector
    from visionops.detection.networks import build_detector, detector_spec

    detector = build_detector(
        detector_spec(
            backbone="scratch",
            channels=1,
            canvas=56,
            classes=classes,
            width=4,
            mean=0.2,
            std=0.3,
            box_head=16,
            mask_channels=4,
            masks=True,
        )
    )
    export_detector(SingleScene(detector), folder / "detector.onnx", classes=classes, shape=(1, 56, 56), opset=18)
    from visionops.vqa.export import export_vqa
    from visionops.vqa.networks import build_vqa

    vqa_spec = {
        "model": "film",
        "encoder": "scratch",
        "image_shape": [1, 56, 56],
        "mean": 0.2,
        "std": 0.3,
        "scratch_width": 4,
        "feature_dim": 16,
        "grid": 7,
        "vocab": ["<pad>", "bag", "is", "there", "a"],
        "answers": ["no", "yes"],
        "embed_dim": 4,
        "hidden_dim": 8,
        "film_channels": 4,
        "film_blocks": 1,
    }
    export_vqa(build_vqa(vqa_spec), vqa_spec, folder / "vqa.onnx", opset=18)
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "item.png")
    Image.fromarray(np.zeros((56, 56), np.uint8)).save(folder / "scene.png")
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "--model", "{f}/classifier.onnx", "{f}/item.png"],
        ["sample", "--model", "{f}/generator.onnx", "--n", "4", "--label", "c3", "{f}/out/grid.png"],
        ["caption", "--model", "{f}/captioner", "{f}/scene.png"],
        ["segment", "--model", "{f}/segmenter.onnx", "{f}/scene.png", "--out", "{f}/out/map.png"],
        ["detect", "--model", "{f}/detector.onnx", "{f}/scene.png", "--out", "{f}/out/found.png"],
        ["ask", "--model", "{f}/vqa.onnx", "{f}/scene.png", "is there a bag?"],
    ],
    ids=["predict", "sample", "caption", "segment", "detect", "ask"],
)
def test_the_onnxruntime_commands_run_with_torch_unimportable(shipped_models, command):
    (shipped_models / "out").mkdir(exist_ok=True)
    argv = [part.format(f=shipped_models) for part in command]
    code = BLOCK_TORCH + f"from visionops.cli import main; main({argv!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()


def test_the_captioner_runtime_and_the_registered_captioner_load_without_torch(
    shipped_models, tmp_path, migrated_mlflow_db
):
    """The registered pyfunc ships only the ONNX pair and the package's onnxruntime code; loading it must not need
    torch, since its requirements do not ask for it."""
    import shutil

    db = tmp_path / "mlflow.db"
    shutil.copy(migrated_mlflow_db, db)
    folder = shipped_models / "captioner"
    register = (
        "import mlflow, numpy as np\n"
        "from pathlib import Path\n"
        "from visionops.captioning.serving import log_captioner\n"
        f"mlflow.set_tracking_uri('sqlite:///{db}')\n"
        f"mlflow.set_experiment('x')\n"
        "with mlflow.start_run():\n"
        f"    print(log_captioner(Path('{folder}/encoder.onnx'), Path('{folder}/decoder_step.onnx'),\n"
        "                        registered_name='cap', example=np.zeros((1, 1, 56, 56), np.float32),\n"
        "                        captions=['a bag']))\n"
    )
    done = subprocess.run([sys.executable, "-c", register], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    version = done.stdout.strip().splitlines()[-1]
    load = BLOCK_TORCH + (
        "import json, mlflow, numpy as np\n"
        "from visionops.captioning.runtime import load_ort_captioner\n"
        "from pathlib import Path\n"
        f"direct = load_ort_captioner(Path('{folder}')).caption(np.zeros((2, 1, 56, 56), np.float32))\n"
        f"mlflow.set_tracking_uri('sqlite:///{db}')\n"
        f"served = mlflow.pyfunc.load_model('models:/cap/{version}').predict(np.zeros((2, 1, 56, 56), np.float32))\n"
        "print(json.dumps([direct, list(served)]))\n"
    )
    no_pickles = {**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    done = subprocess.run(
        [sys.executable, "-c", load], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=no_pickles
    )
    assert done.returncode == 0, done.stderr[-3000:]
    direct, served = json.loads(done.stdout.strip().splitlines()[-1])
    assert direct == served and len(direct) == 2
    # logged from code: the model's own file is there, and no pickle of it
    assert list(tmp_path.rglob("pyfunc_model.py")) and not list(tmp_path.rglob("*.pkl"))
