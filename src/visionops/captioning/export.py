"""A captioner -> two ONNX files: encoder.onnx (image -> memory, h, c) and decoder_step.onnx
(token, h, c, memory -> logits, h, c). Each part is exported in a fresh process: several LSTM exports in one
process can freeze a dynamic axis (DESIGN.md, pitfalls).

    python -m visionops.captioning.export --model captioner.pt --part encoder --out encoder.onnx --opset 18
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionops.captioning.runtime import IMAGE, LOGITS, MEMORY, META_KEY, TOKEN, C, H, step_feeds
from visionops.core.errors import UserError, exits_cleanly

PARTS = ("encoder", "decoder_step")


class _Encoder(nn.Module):
    def __init__(self, captioner: nn.Module) -> None:
        super().__init__()
        self.captioner = captioner

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.captioner.start(image)


class _Step(nn.Module):
    def __init__(self, captioner: nn.Module) -> None:
        super().__init__()
        self.captioner = captioner

    def forward(
        self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.captioner.step(token, h, c, memory)


def part_inputs(
    captioner: nn.Module, spec: dict[str, Any], part: str, *, n: int, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Seeded example inputs of one part at batch n (the step's state comes from the encoder on random images)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, *spec["image_shape"], generator=gen)
    if part == "encoder":
        return (images,)
    with torch.no_grad():
        memory, h, c = captioner.eval().start(images)
    tokens = torch.randint(0, len(spec["vocab"]), (n,), generator=gen)
    return tokens, h, c, memory


def metadata(spec: dict[str, Any]) -> str:
    keys = ("vocab", "image_shape", "decoder", "encoder", "max_length", "beam_width")
    return json.dumps({k: spec[k] for k in keys})


def export_part(captioner: nn.Module, spec: dict[str, Any], part: str, *, path: Path, opset: int) -> None:
    """Write one part as one checked ONNX file, the batch axis of every input and output dynamic.

    This uses the TorchScript exporter: for these small recurrent parts it takes about 0.3 s where the dynamo
    exporter took over 10 s (measured here), and the parity check at other batch sizes guards the dynamic axis.
    """
    import warnings

    import onnx

    wrapper, names, outputs = (
        (_Encoder(captioner), [IMAGE], [MEMORY, H, C])
        if part == "encoder"
        else (_Step(captioner), [TOKEN, H, C, MEMORY], [LOGITS, H + "_next", C + "_next"])
    )
    example = part_inputs(captioner, spec, part, n=2)
    with warnings.catch_warnings():
        # tracing nn.LSTM warns about Python booleans and batch sizes; parity at other batch sizes checks both
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper.eval(),
            example,
            str(path),
            input_names=names,
            output_names=outputs,
            opset_version=opset,
            dynamo=False,
            dynamic_axes={name: {0: "batch"} for name in names + outputs},
        )
    model = onnx.load_model(str(path))
    prop = model.metadata_props.add()
    prop.key, prop.value = META_KEY, metadata(spec)
    onnx.save_model(model, str(path), save_as_external_data=False)
    onnx.checker.check_model(str(path), full_check=True)


def export_in_subprocess(model: Path, part: str, out: Path, opset: int) -> None:
    """Run `export_part` in a fresh interpreter; its one-line error becomes ours."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "visionops.captioning.export",
            "--model",
            str(model),
            "--part",
            part,
            "--out",
            str(out),
            "--opset",
            str(opset),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"exporting {part} failed: {lines[-1] if lines else f'exit {done.returncode}'}")


def pair_parity(
    captioner: nn.Module, spec: dict[str, Any], *, encoder: Path, step: Path, batch_sizes: tuple[int, ...]
) -> dict[str, float]:
    """Max |ORT - torch| over every output of both parts at each batch size."""
    from visionops.core.ort import session

    sessions = {"encoder": session(encoder), "decoder_step": session(step)}
    diffs = {}
    for n in batch_sizes:
        for part, sess in sessions.items():
            inputs = part_inputs(captioner, spec, part, n=n, seed=n)
            with torch.no_grad():
                expected = (_Encoder if part == "encoder" else _Step)(captioner).eval()(*inputs)
            arrays = [t.numpy() for t in inputs]
            if part == "encoder":
                feeds = {i.name: array for i, array in zip(sess.get_inputs(), arrays)}
            else:
                token, h, c, memory = arrays
                feeds = step_feeds(sess, token=token, h=h, c=c, memory=memory)
            got = sess.run(None, feeds)
            for name, g, e in zip(("out0", "out1", "out2"), got, expected):
                if g.shape != tuple(e.shape):
                    raise UserError(
                        f"{part}: ONNX output {name} has shape {g.shape} at batch {n}, torch {tuple(e.shape)}"
                    )
            diffs[f"{part}_batch_{n}"] = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
    return diffs


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--part", choices=PARTS, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--opset", type=int, default=18)
    args = parser.parse_args(argv)
    from visionops.captioning.model_file import load_captioner

    captioner, spec = load_captioner(args.model)
    export_part(captioner, spec, args.part, path=args.out, opset=args.opset)


if __name__ == "__main__":
    main()


def export_stage(
    *, name: str, model: Path, encoder_path: Path, step_path: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Export the captioner in `model` as its ONNX pair, each part in its own process; refuse it unless both match
    torch."""

    import mlflow

    from visionops.captioning.model_file import load_captioner
    from visionops.core import tracking
    from visionops.core.io import atomic_path, atomic_write_json
    from visionops.core.onnx_export import check_parity

    captioner, spec = load_captioner(model)
    with tracking.stage_run(f"caption_export@{name}", params.tracking, root):
        mlflow.log_params({f"export.{k}": v for k, v in params.export.model_dump().items()})
        with atomic_path(encoder_path) as encoder, atomic_path(step_path) as step:
            export_in_subprocess(model, "encoder", encoder, params.export.opset)
            export_in_subprocess(model, "decoder_step", step, params.export.opset)
            diffs = pair_parity(
                captioner, spec, encoder=encoder, step=step, batch_sizes=params.export.parity_batch_sizes
            )
            worst = check_parity(diffs, params.export.parity_atol)
        metrics = {
            "parity_max_abs": diffs,
            "encoder_bytes": encoder_path.stat().st_size,
            "decoder_step_bytes": step_path.stat().st_size,
        }
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="export/")
        mlflow.log_artifact(str(encoder_path), "onnx")
        mlflow.log_artifact(str(step_path), "onnx")
    print(
        f"caption_export@{name}: {encoder_path} ({metrics['encoder_bytes'] / 1e6:.2f} MB), {step_path} "
        f"({metrics['decoder_step_bytes'] / 1e6:.2f} MB), parity max abs {worst:.1e}"
    )
