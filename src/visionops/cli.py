"""The `visionops` command. Heavy libraries are imported inside each command, so `--help` stays fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from visionops.core.errors import UserError, exits_cleanly

DEFAULT_MODEL = Path("data/models/standard/classifier.onnx")
DEFAULT_GENERATOR = Path("data/models/cgan/generator.onnx")
DEFAULT_CAPTIONER = Path("data/models/attention")
DEFAULT_SEGMENTER = Path("data/models/deconvnet/segmenter.onnx")
DEFAULT_DETECTOR = Path("data/models/maskrcnn/detector.onnx")
DEFAULT_VQA = Path("data/models/film/vqa.onnx")


def _project(args: argparse.Namespace) -> Path:
    from visionops.core.runtime import apply_environment_defaults, find_project_root

    root = find_project_root(args.project)
    apply_environment_defaults(root)
    return root


def _model_path(args: argparse.Namespace, default: Path) -> Path:
    """The model a command reads: --model as given (a file, or `models:/<name>@<alias>` or `models:/<name>/<version>`
    from the registry), else the project's own (found from --project, VISIONOPS_PROJECT or the current folder), so a
    command works from any folder."""
    if str(args.model).startswith(REGISTRY_SCHEME):
        return _registry_model(args, str(args.model), default)
    if args.model != default:
        return args.model
    from visionops.core.runtime import find_project_root

    try:
        return find_project_root(args.project) / default
    except UserError as exc:
        raise UserError(f"{exc}; or give the model with --model") from None


REGISTRY_SCHEME = "models:"


def _registry_model(args: argparse.Namespace, uri: str, default: Path) -> Path:
    """Download a registered version into a temporary folder (removed at exit) and return its model in the form the
    command reads: the .onnx file, or the folder that holds `default`'s files (the captioner's pair)."""
    import atexit
    import os
    import shutil
    import tempfile

    from visionops import params
    from visionops.core import config, tracking
    from visionops.core.runtime import find_project_root

    try:
        root = find_project_root(args.project)
        tracking_params = params.load(root / config.PARAMS_FILE).tracking
        tracking.follow_moved_store(tracking_params, root)
        where = tracking.tracking_uri(tracking_params, root)
    except UserError:
        where = os.environ.get("MLFLOW_TRACKING_URI", "")
        if not where:
            raise UserError(
                f"--model {uri}: no project here to find the registry from; run inside one, give --project, or set "
                "MLFLOW_TRACKING_URI"
            ) from None
    import mlflow
    from mlflow.exceptions import MlflowException

    folder = Path(tempfile.mkdtemp(prefix="visionops-model-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # process-wide, as this command is the whole process: download_artifacts resolves models:/ URIs through the
    # default registry whatever registry_uri it is given
    mlflow.set_tracking_uri(where)
    mlflow.set_registry_uri(where)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # the answer is the output, not a progress bar
    try:
        mlflow.artifacts.download_artifacts(uri, dst_path=str(folder))
    except MlflowException as exc:
        reason = str(exc).splitlines()[0]
        raise UserError(
            f"--model {uri}: not found in the registry at {tracking.without_credentials(where)} ({reason}); "
            "see the registered models and aliases in the MLflow UI"
        ) from None
    if default.suffix == ".onnx":
        found = sorted(folder.rglob("*.onnx"))
        if len(found) == 1:
            return found[0]
    else:
        found = sorted({f.parent for f in folder.rglob(CAPTIONER_ENCODER)})
        if len(found) == 1:
            return found[0]
    raise UserError(f"--model {uri}: that version holds no model this command reads ({default.name} is what it needs)")


CAPTIONER_ENCODER = "encoder.onnx"  # the captioner is a folder: its encoder and its decoder step


def cmd_run(args: argparse.Namespace) -> None:
    from visionops.core.runtime import project_lock

    root = _project(args)
    with project_lock(root):  # before params.yaml is touched: a second run must not rewrite it under the first
        _run(args, root)


def _run(args: argparse.Namespace, root: Path) -> None:
    from visionops import params
    from visionops.core import config

    params_file = root / config.PARAMS_FILE
    current = params.load(params_file)  # refuse a bad params.yaml before anything, overrides or not
    overrides = {}
    if args.budget == "gpu" and not args.force:
        _refuse_gpu_budget_without_a_gpu()
    if args.budget:
        overrides.update(config.budget_overrides(current, args.budget))
    overrides.update(dict(config.parse_override(text) for text in args.set))
    changed = changed_overrides(current.model_dump(mode="json"), overrides)
    if changed:  # keys already at their value are neither written nor reported
        params.apply_overrides(params_file, changed)
        print(f"params.yaml: set {', '.join(f'{k}={v}' for k, v in changed.items())}")

    from pipelines.dvc_stages import DvcStages
    from visionops.core import tracking

    tracking.follow_moved_store(current.tracking, root)  # a no-op run too: it is how a moved project's UI heals
    with DvcStages(root) as dvc:  # DVC alone answers "is anything stale?": a no-op run starts no Prefect server
        stale = dvc.stale()
    if not stale:
        print("pipeline: every stage is up to date (DVC found nothing changed); no flow run started")
        return

    from pipelines.pipeline import run_pipeline

    tracking.ensure_experiment(params.load(params_file).tracking, root)  # a broken store: one line, no flow started
    outcome = run_pipeline(root)
    print(outcome_summary(outcome))


def _refuse_gpu_budget_without_a_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        return
    from visionops.core.runtime import cpu_name

    raise UserError(
        f"--budget gpu: torch finds no CUDA GPU here, only the CPU ({cpu_name()}); its 30-epoch settings would "
        "train for hours on it. Run it on a machine with a GPU, or add --force to train them on the CPU anyway"
    )


_UNSET = object()


def changed_overrides(current: dict, overrides: dict) -> dict:
    """The overrides whose dotted key does not already hold that value in `current` (params as a nested dict)."""
    changed = {}
    for key, value in overrides.items():
        node = current
        for part in key.split("."):
            node = node.get(part, _UNSET) if isinstance(node, dict) else _UNSET
        if node != value:
            changed[key] = value
    return changed


def outcome_summary(outcome: dict[str, str]) -> str:
    """The flow's outcome as a few short lines: how many stages ran, were restored, skipped or failed, and which (a
    state every stage is in, or 'skipped', is only counted)."""
    import textwrap

    by_state: dict[str, list[str]] = {}
    for stage, state in outcome.items():
        by_state.setdefault(state, []).append(stage)
    lines = [f"pipeline: {len(outcome)} stages"]
    usual = ("ran", "restored", "skipped")
    for state in (*usual, *(state for state in by_state if state not in usual)):
        stages = by_state.get(state, [])
        head = f"  {state:<9}{len(stages):>3}"
        if state == "skipped" or not stages or len(stages) == len(outcome):
            lines.append(head + ("  (all)" if stages and len(stages) == len(outcome) else ""))
            continue
        wrapped = textwrap.wrap(", ".join(stages), 100, break_on_hyphens=False)
        lines += [f"{head}  {wrapped[0]}", *(f"{'':14}{more}" for more in wrapped[1:])]
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> None:
    from visionops import params
    from visionops.core import config
    from visionops.report import report_stage

    root = _project(args)
    report_stage(
        reports=root / "reports",
        out=root / "reports" / "index.html",
        params=params.load(root / config.PARAMS_FILE),
        root=root,
    )


def cmd_serve(args: argparse.Namespace) -> None:
    root = _project(args)
    from pipelines.serve import serve

    serve(root)


def cmd_predict(args: argparse.Namespace) -> None:
    from visionops.classifier.predict import load_images, predict_files

    images = load_images(args.images)
    for found in predict_files(_model_path(args, DEFAULT_MODEL), images, threads=args.threads):
        print(f"{found.path}\t{found.label}\t{found.probability:.3f}")
        if found.unusual:
            print(
                f"warning: {found.path} looks unlike the training images (its log-sum-exp of the logits is below "
                "the model's out-of-distribution threshold); treat its answer with doubt",
                file=sys.stderr,
            )


def cmd_attack(args: argparse.Namespace) -> None:
    from visionops import params
    from visionops.classifier.attack import MODELS_DIR, attack_file
    from visionops.core import config

    root = _project(args)
    rp = params.load(root / config.PARAMS_FILE).robustness
    out = args.out or Path(f"{args.image.stem}.adv_{args.model}_eps{args.eps:g}.png")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give the name of the PNG to write (e.g. {out / 'adversarial.png'})")
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: the adversarial image is written as PNG; give a name ending in .png")
    result = attack_file(
        args.image,
        out=out,
        eps=args.eps,
        model_dir=root / MODELS_DIR / args.model,
        steps=rp.pgd_steps if args.steps is None else args.steps,
        restarts=rp.pgd_restarts if args.restarts is None else args.restarts,
        step_scale=rp.pgd_step_scale,
        label=args.label,
    )
    print(f"clean:       {result.clean_label} ({result.clean_prob:.3f})")
    print(
        f"adversarial: {result.adversarial_label} ({result.adversarial_prob:.3f}), "
        f"max pixel change {result.max_change:.3f}"
    )
    print(f"wrote {out}")


def cmd_sample(args: argparse.Namespace) -> None:
    from visionops.core.io import atomic_save
    from visionops.gan.plots import grid_image, save_png
    from visionops.gan.sample import sample_grid

    if args.out.suffix.lower() != ".png":
        raise UserError(f"{args.out}: the grid is written as PNG; give a name ending in .png")
    images, columns, labels = sample_grid(
        _model_path(args, DEFAULT_GENERATOR), args.n, seed=args.seed, label=args.label, threads=args.threads
    )
    atomic_save(args.out, lambda tmp: save_png(grid_image(images, columns), tmp, scale=args.scale))
    what = (
        f"class {args.label}"
        if args.label
        else ("classes " + ", ".join(dict.fromkeys(labels)) if labels[0] else "unconditional")
    )
    print(f"wrote {args.out}: {len(images)} samples ({what}), seed {args.seed}")


def cmd_caption(args: argparse.Namespace) -> None:
    from visionops.captioning.runtime import load_ort_captioner, load_scene_images
    from visionops.core.errors import UserError

    if args.beam is not None and args.beam < 1:
        raise UserError(f"--beam {args.beam}: the beam width must be 1 (greedy) or more")
    captioner = load_ort_captioner(_model_path(args, DEFAULT_CAPTIONER), args.threads)
    images = load_scene_images(args.images, captioner.image_shape)
    for path, caption in zip(args.images, captioner.caption(images, args.beam)):
        print(f"{path}\t{caption}")


def cmd_segment(args: argparse.Namespace) -> None:
    from visionops.core.images import read_scenes
    from visionops.core.io import atomic_save
    from visionops.core.ort import class_names, session
    from visionops.gan.plots import save_png
    from visionops.segmentation.plots import legend_image
    from visionops.segmentation.runtime import input_shape, segment

    if args.out.suffix.lower() != ".png" or args.out.is_dir():
        raise UserError(f"--out {args.out}: the class map is written as PNG; give a name ending in .png")
    sess = session(
        _model_path(args, DEFAULT_SEGMENTER),
        args.threads,
        "run the segment_export stage first (dvc repro segment_export)",
    )
    names = class_names(sess)
    class_map = segment(sess, read_scenes([args.image], input_shape(sess), reader="the segmenter"))[0]
    atomic_save(args.out, lambda tmp: save_png(legend_image(class_map, names), tmp, scale=1))
    counts = {names[k] if k < len(names) else str(k): int((class_map == k).sum()) for k in range(1, len(names))}
    found = ", ".join(f"{name} {n} px" for name, n in counts.items() if n) or "no items"
    print(f"{args.image}\t{found}")
    print(f"wrote {args.out}")


def cmd_detect(args: argparse.Namespace) -> None:
    from visionops.core.images import read_scenes
    from visionops.core.io import atomic_save
    from visionops.core.ort import class_names, session
    from visionops.detection.plots import draw_detections
    from visionops.detection.runtime import detect, input_shape
    from visionops.gan.plots import save_png

    if args.out is not None and (args.out.suffix.lower() != ".png" or args.out.is_dir() or len(args.images) != 1):
        raise UserError(f"--out {args.out}: give one image and a name ending in .png for the picture of its detections")
    if not 0.0 <= args.score <= 1.0:
        raise UserError(f"--score {args.score}: give a score threshold between 0 and 1")
    sess = session(
        _model_path(args, DEFAULT_DETECTOR),
        args.threads,
        "run the detect_export stage first (dvc repro detect_export)",
    )
    names = class_names(sess)
    pixels = read_scenes(args.images, input_shape(sess), reader="the detector")
    for path, scene, found in zip(args.images, pixels, detect(sess, pixels)):
        found = found.above(args.score)
        for box, label, score in zip(found.boxes, found.labels, found.scores):
            name = names[int(label)] if int(label) < len(names) else str(int(label))
            x0, y0, x1, y1 = (f"{v:.1f}" for v in box)
            print(f"{path}\t{name}\t{score:.3f}\t{x0},{y0},{x1},{y1}")
        if not len(found.labels):
            print(f"{path}\tno items found (score >= {args.score})")
        if args.out is not None:
            picture = draw_detections((scene[0] * 255).round().astype("uint8"), found, names)
            atomic_save(args.out, lambda tmp, picture=picture: save_png(picture, tmp, scale=1))
            print(f"wrote {args.out}")


def cmd_ask(args: argparse.Namespace) -> None:
    from visionops.core.images import read_scenes
    from visionops.vqa.runtime import load_ort_vqa

    vqa = load_ort_vqa(_model_path(args, DEFAULT_VQA), args.threads)
    pixels = read_scenes([args.image], vqa.image_shape, reader="the VQA model")  # checked even by the blind model
    answers, probs = vqa.answer(pixels if vqa.reads_image else None, [args.question])
    print(f"{answers[0]}\t{probs[0]:.3f}")


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with where to look) and exit status 2, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        import sys

        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


PROJECT_HELP = "the project whose models to use (default: VISIONOPS_PROJECT, else the one around the cwd)"


def _add_project(command: argparse.ArgumentParser) -> None:
    command.add_argument("--project", type=Path, default=None, help=PROJECT_HELP)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("visionops")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Version(argparse.Action):
    """--version, with the package metadata read only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"visionops {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="visionops", description=__doc__)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the pipeline (Prefect flow over the DVC stages)")
    run.add_argument(
        "--budget", choices=("tiny", "cpu", "gpu"), help="write that budget's overrides into params.yaml first"
    )
    run.add_argument(
        "-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a param in params.yaml"
    )
    run.add_argument("--force", action="store_true", help="with --budget gpu: run it even without a GPU")
    run.add_argument("--project", type=Path, default=None, help="project folder (default: the one around the cwd)")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser(
        "serve", help="serve the pipeline on the cron schedule in params.yaml (needs a Prefect server)"
    )
    serve.add_argument("--project", type=Path, default=None)
    serve.set_defaults(func=cmd_serve)

    report = sub.add_parser(
        "report", help="write reports/index.html: every family's numbers, figures and registrations, self-contained"
    )
    report.add_argument("--project", type=Path, default=None)
    report.set_defaults(func=cmd_report)

    predict = sub.add_parser("predict", help="classify images with the ONNX model (onnxruntime only)")
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    predict.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    _add_project(predict)
    predict.set_defaults(func=cmd_predict)

    attack = sub.add_parser(
        "attack", help="craft a PGD adversarial image (L-infinity eps) and classify both with onnxruntime"
    )
    attack.add_argument("image", type=Path)
    attack.add_argument("--eps", type=float, default=0.1, help="L-infinity budget, pixels in [0, 1] (default 0.1)")
    attack.add_argument("--model", choices=("standard", "robust"), default="standard")
    attack.add_argument("--label", help="the image's true class (default: the model's own prediction)")
    attack.add_argument("--steps", type=int, help="PGD steps (default: robustness.pgd_steps)")
    attack.add_argument("--restarts", type=int, help="PGD restarts (default: robustness.pgd_restarts)")
    attack.add_argument("--out", type=Path, help="where to write the adversarial PNG")
    attack.add_argument("--project", type=Path, default=None)
    attack.set_defaults(func=cmd_attack)

    sample = sub.add_parser("sample", help="draw a grid of images from the ONNX generator (onnxruntime only)")
    sample.add_argument("out", type=Path, help="the PNG to write")
    sample.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    sample.add_argument("--label", help="the class to draw (conditional generator; default: every class in turn)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--model", type=Path, default=DEFAULT_GENERATOR)
    sample.add_argument(
        "--scale", type=int, default=3, choices=range(1, 9), metavar="1-8", help="pixel zoom (default 3)"
    )
    sample.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    _add_project(sample)
    sample.set_defaults(func=cmd_sample)

    caption = sub.add_parser("caption", help="describe scene images with the ONNX captioner (onnxruntime only)")
    caption.add_argument("images", nargs="+", type=Path)
    caption.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_CAPTIONER,
        help="folder with encoder.onnx and decoder_step.onnx (default: data/models/attention)",
    )
    caption.add_argument("--beam", type=int, help="beam width (default: the model's; 1 is greedy)")
    caption.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    _add_project(caption)
    caption.set_defaults(func=cmd_caption)

    segment = sub.add_parser(
        "segment", help="per-pixel class map of a scene image with the ONNX segmenter (onnxruntime only)"
    )
    segment.add_argument("image", type=Path)
    segment.add_argument("--out", type=Path, required=True, help="the PNG to write: the map in colour, with a legend")
    segment.add_argument("--model", type=Path, default=DEFAULT_SEGMENTER)
    segment.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    _add_project(segment)
    segment.set_defaults(func=cmd_segment)

    detect = sub.add_parser(
        "detect", help="find and outline the items of scene images with the ONNX detector (onnxruntime only)"
    )
    detect.add_argument("images", nargs="+", type=Path)
    detect.add_argument("--out", type=Path, help="with one image: the PNG to write, its boxes and masks drawn")
    detect.add_argument("--score", type=float, default=0.5, help="show detections scored at least this (default 0.5)")
    detect.add_argument("--model", type=Path, default=DEFAULT_DETECTOR)
    detect.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    _add_project(detect)
    detect.set_defaults(func=cmd_detect)

    ask = sub.add_parser("ask", help="answer a question about a scene image with the ONNX VQA model (onnxruntime only)")
    ask.add_argument("image", type=Path)
    ask.add_argument("question", help='e.g. "what is left of the bag?"')
    ask.add_argument("--model", type=Path, default=DEFAULT_VQA, help="a vqa.onnx (default: data/models/film/vqa.onnx)")
    ask.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    _add_project(ask)
    ask.set_defaults(func=cmd_ask)
    return parser


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
