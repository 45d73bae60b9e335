"""Lightning helpers every family's fit uses: a quiet log, a one-line report per epoch, and checkpoints that resume
only the unfinished run they belong to (a fingerprint of the params, the data and upstream models, and the code)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

FINGERPRINT_FILE = "fingerprint.json"


def quiet_lightning() -> None:
    """Keep the stage's log to what a user reads: hardware banners, tips and known deprecations go."""
    import logging
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message="The number of training batches .* is smaller than the logging interval")


def resolve_precision(precision: str, *, on_gpu: bool) -> str:
    """Lightning's precision for 'auto': bf16-mixed on a GPU that has bf16, and on a CPU where bf16 was measured to
    train faster than fp32 (`bf16_is_faster_on_this_cpu`); else 32-true."""
    if precision != "auto":
        return precision
    import torch

    if on_gpu:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if bf16_is_faster_on_this_cpu() else "32-true"


def bf16_is_faster_on_this_cpu() -> bool:
    """By what `python benchmarks/precision.py` measured (bf16/fp32 training steps per second, one thread: the
    ResNet, the question LSTM): with AMX tiles yes (Intel Xeon, 1.3-1.6); AVX512-BF16 on an AMD EPYC yes (1.6);
    AVX512-BF16 on an Intel Xeon without AMX no (0.83 and 0.68; a model 207 whose AMX its virtual machine hides),
    nor AVX-512 alone, where oneDNN converts (0.48)."""
    import torch

    try:
        if torch.cpu._is_amx_tile_supported():
            return True
        return bool(torch.cpu._is_avx512_bf16_supported()) and cpu_vendor() == "AuthenticAMD"
    except (AttributeError, RuntimeError):  # a torch without these probes: fp32 is never the slow choice
        return False


def cpu_vendor() -> str:
    """The CPU's vendor string (GenuineIntel, AuthenticAMD, ...) from /proc/cpuinfo; empty where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def code_digest(family: str) -> str:
    """SHA-256 of the code a family's training runs: its own package and visionops.core."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*(package / family).rglob("*.py"), *(package / "core").rglob("*.py")]):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(params: Any, data_digest: str, *, family: str) -> str:
    """What a checkpoint must match to be resumed: the model's params section, its inputs (`data_digest` covers the
    data and any upstream model the stage reads) and the family's code."""
    blob = json.dumps(
        {"params": params.model_dump(mode="json"), "data": data_digest, "code": code_digest(family)}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def resumable_checkpoint(ckpt_dir: Path, expected: str, clean: bool = True) -> Path | None:
    """`last.ckpt` if an unfinished run with the same fingerprint wrote it, else None (and, if `clean`, stale files go).

    A finished run is never resumed: DVC re-running the stage means something changed. A checkpoint that cannot be
    read (a truncated file, say) is set aside as `last.ckpt.unreadable` with one warning, and training starts afresh.
    """
    last, stamp = ckpt_dir / "last.ckpt", ckpt_dir / FINGERPRINT_FILE
    if last.is_file() and stamp.is_file():
        try:
            recorded = json.loads(stamp.read_text())
        except ValueError:
            recorded = {}
        if recorded.get("fingerprint") == expected and not recorded.get("finished"):
            if _readable(last):
                return last
            last.replace(last.with_name("last.ckpt.unreadable"))
            print(f"warning: {last} cannot be read; set aside as last.ckpt.unreadable, training starts afresh")
    if clean:
        for stale in ckpt_dir.glob("*.ckpt"):
            stale.unlink()
    return None


def _readable(checkpoint: Path) -> bool:
    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception:  # torch raises several types for a damaged file
        return False
    return isinstance(state, dict) and "state_dict" in state


def epoch_report(metrics: list[str]) -> Any:
    """A callback printing one line per epoch in one format for every family, `epoch k/N: <metric> <value>, ...
    (<s>s)`, each metric named as MLflow shows its curve (`train/loss_epoch` reads `train/loss`); absent ones are left
    out. The lines go to the stage's log (a progress bar would flood it).

    The line is printed when the training epoch ends, when Lightning has reduced the epoch's training metrics (at the
    end of validation, which runs inside the training epoch, `callback_metrics` still holds the previous epoch's),
    with what validation logged, the module's own epoch-end hook included, as it stood when validation ended.
    """
    import pytorch_lightning as pl

    class EpochReport(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.started, self.validated = time.perf_counter(), {}

        def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            if not trainer.sanity_checking and hasattr(self, "validated"):
                self.validated = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val")}

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            if not trainer.is_global_zero or not hasattr(self, "started"):
                return
            m = {**{k: float(v) for k, v in trainer.callback_metrics.items()}, **self.validated}
            parts = ", ".join(f"{key.removesuffix('_epoch')} {m[key]:.4f}" for key in metrics if key in m)
            print(
                f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {parts} "
                f"({time.perf_counter() - self.started:.0f}s)",
                flush=True,
            )

    return EpochReport()


def random_state_in_checkpoints() -> Any:
    """A callback that keeps torch's random state in each checkpoint and puts it back on resume, so that what an
    epoch draws after a resume (dropout masks, noise, random starts) is what the uninterrupted run drew. Lightning
    saves the model, optimiser and loops, not the generator: without this a resumed captioner drew other dropout
    masks and ended 0.9 points of word accuracy away from the uninterrupted run."""
    import pytorch_lightning as pl
    import torch

    class RandomState(pl.Callback):
        def on_save_checkpoint(self, trainer: pl.Trainer, module: pl.LightningModule, checkpoint: dict) -> None:
            checkpoint["torch_rng_state"] = torch.get_rng_state()
            if torch.cuda.is_available():
                checkpoint["cuda_rng_states"] = torch.cuda.get_rng_state_all()

        def on_load_checkpoint(self, trainer: pl.Trainer, module: pl.LightningModule, checkpoint: dict) -> None:
            if "torch_rng_state" in checkpoint:
                torch.set_rng_state(checkpoint["torch_rng_state"])
            if "cuda_rng_states" in checkpoint and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(checkpoint["cuda_rng_states"])

    return RandomState()
