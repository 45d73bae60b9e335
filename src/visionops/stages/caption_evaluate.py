"""DVC stage `caption_evaluate`: every captioner on the test scenes and on the held-out combinations, decoded
greedily in torch and in onnxruntime (which must agree) and by beam search in onnxruntime; BLEU-1..4, CIDEr-D,
ROUGE-L and truthfulness with its error types; example and attention figures."""

from __future__ import annotations

import json
from pathlib import Path

from visionops.errors import UserError, exits_cleanly
from visionops.stages import stage_parser, start

SPLITS = ("test", "heldout")
HEADLINE = ("bleu_4", "cider_d", "rouge_l", "truthfulness")


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--captioners", type=Path, nargs="+", required=True,
                        help="folders holding captioner.pt, encoder.onnx and decoder_step.onnx")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    settings = params.caption_evaluation

    import mlflow
    import numpy as np

    from visionops import tracking
    from visionops.captioning.evaluate import attention_maps, evaluate_split
    from visionops.captioning.plots import attention_figure, examples_figure
    from visionops.captioning.runtime import load_ort_captioner
    from visionops.io import atomic_dir, atomic_write_json
    from visionops.models.io import load_captioner
    from visionops.scenes.compose import load_split
    from visionops.stages.scenes import MANIFEST_FILE

    classes = json.loads((args.scenes / MANIFEST_FILE).read_text())["classes"]
    splits = {name: load_split(args.scenes, name) for name in SPLITS}
    report: dict = {}
    with tracking.stage_run("caption_evaluate", params.tracking, root), atomic_dir(args.out) as out:
        mlflow.log_params({f"caption_evaluation.{k}": v for k, v in settings.model_dump().items()})
        for folder in args.captioners:
            name = folder.name
            captioner, spec = load_captioner(folder / "captioner.pt")
            ort = load_ort_captioner(folder)
            if tuple(spec["image_shape"]) != splits["test"].images.shape[1:]:
                raise UserError(f"{folder} captions {spec['image_shape']} images, the scenes are "
                                f"{list(splits['test'].images.shape[1:])}; run dvc repro caption_train")
            report[name] = {"decoder": spec["decoder"], "encoder": spec["encoder"]}
            for split_name, split in splits.items():
                result = evaluate_split(captioner, ort, split, classes, spec["beam_width"], settings.batch_size)
                report[name][split_name] = result.metrics
                if split_name == "test" and settings.examples:
                    shown = slice(0, settings.examples)
                    examples_figure(split.images[shown], result.beam[shown], result.errors[shown],
                                    [d["captions"] for d in split.descriptions[shown]],
                                    f"{name} on test scenes (beam {spec['beam_width']}, onnxruntime)",
                                    out / f"examples_{name}.png")
            if spec["decoder"] == "attention" and settings.examples:
                images = splits["test"].images[: min(settings.examples, 4)]
                ids, alphas = attention_maps(captioner, images.astype(np.float32) / 255.0, ort.vocab.bos,
                                             ort.vocab.eos, spec["max_length"])
                words = [ort.vocab.decode(row).split() for row in ids]
                attention_figure(images, words, alphas, f"{name}: where each word looked (greedy, torch)",
                                 out / f"attention_{name}.png")
        atomic_write_json(args.metrics, report)
        flat = {}
        for name in report:
            for split_name in SPLITS:
                m = report[name][split_name]
                flat[f"{name}/{split_name}/ort_torch_identical"] = m["ort_torch_identical"]
                for decoding in ("greedy", "beam"):
                    for key, value in m[decoding].items():
                        flat[f"{name}/{split_name}/{decoding}/{key}"] = value
        mlflow.log_metrics(flat)
        mlflow.log_artifacts(str(out), "captioning")
        mlflow.log_artifact(str(args.metrics))
    for name, r in report.items():
        t, h = r["test"]["beam"], r["heldout"]["beam"]
        print(f"caption_evaluate: {name} test BLEU-4 {t['bleu_4']:.3f}, CIDEr-D {t['cider_d']:.3f}, truthfulness "
              f"{t['truthfulness']:.3f}; held-out truthfulness {h['truthfulness']:.3f}; onnxruntime = torch on "
              f"{r['test']['ort_torch_identical']:.1%} of test scenes")


if __name__ == "__main__":
    main()
