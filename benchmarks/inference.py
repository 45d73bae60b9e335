"""onnxruntime vs torch eager on the exported classifier: batch-1 latency and batch-256 throughput."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def median_seconds(call, repeats: int) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("data/models/classifier.pt"))
    parser.add_argument("--onnx", type=Path, default=Path("data/models/classifier.onnx"))
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    from visionops.classifier.model_file import load_classifier
    from visionops.classifier.predict import predict_logits
    from visionops.core.ort import session

    network, _ = load_classifier(args.model)
    sess = session(args.onnx)
    rng = np.random.default_rng(0)
    one = rng.random((1, 1, 28, 28), dtype=np.float32)
    many = rng.random((256, 1, 28, 28), dtype=np.float32)
    one_t, many_t = torch.from_numpy(one), torch.from_numpy(many)

    def torch_call(x):
        with torch.inference_mode():
            return network(x)

    rows = {}
    for name, x_np, x_t, repeats in (
        ("batch 1", one, one_t, args.repeats),
        ("batch 256", many, many_t, args.repeats // 10),
    ):
        rows[name] = (
            median_seconds(lambda x=x_t: torch_call(x), repeats),
            median_seconds(lambda x=x_np: predict_logits(sess, x, batch_size=len(x)), repeats),
        )
    t1, o1 = rows["batch 1"]
    t256, o256 = rows["batch 256"]
    print(
        f"batch-1 latency:     torch {t1 * 1e3:.3f} ms, onnxruntime {o1 * 1e3:.3f} ms, "
        f"ratio ORT/torch {o1 / t1:.2f} (target <= 1)"
    )
    print(
        f"batch-256 throughput: torch {256 / t256:,.0f} img/s, onnxruntime {256 / o256:,.0f} img/s, "
        f"ratio ORT/torch {t256 / o256:.2f}"
    )


if __name__ == "__main__":
    main()
