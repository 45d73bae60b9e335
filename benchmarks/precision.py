"""bf16-mixed against fp32 for the training steps `precision: auto` decides: the standard classifier's ResNet and
the FiLM VQA head's question LSTM, on this machine's CPU, one thread, interleaved rounds (the median of each).

Prints images (or questions) per second of each, the ratio bf16 / fp32, and what `auto` resolves to here. `auto`
should pick bf16 only where the ratio is above 1 (`core.lightning.bf16_is_faster_on_this_cpu` lists where it was
measured).

    python benchmarks/precision.py
"""

from __future__ import annotations

import statistics
import time

import torch


def resnet_step():
    from visionops.classifier.networks import build_network

    spec = {
        "network": "resnet",
        "num_classes": 10,
        "in_channels": 1,
        "mean": 0.29,
        "std": 0.35,
        "resnet_widths": [32, 64, 128],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
    }
    network = build_network(spec).to(memory_format=torch.channels_last)
    x = torch.rand(128, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))
    return network, (x,), y, 128


def lstm_step():
    class Questions(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(60, 64)
            self.lstm = torch.nn.LSTM(64, 64, batch_first=True)
            self.out = torch.nn.Linear(64, 30)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.out(self.lstm(self.embed(tokens))[0][:, -1])

    tokens = torch.randint(0, 60, (128, 9))
    return Questions(), (tokens,), torch.randint(0, 30, (128,)), 128


def rate(network, inputs, target, batch: int, bf16: bool, steps: int) -> float:
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(network(*inputs).float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    from visionops.core.lightning import cpu_vendor, resolve_precision

    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(
        f"CPU {cpu_vendor() or 'of unknown vendor'}, AMX {torch.cpu._is_amx_tile_supported()}, AVX512-BF16 "
        f"{torch.cpu._is_avx512_bf16_supported()}; precision auto -> "
        f"{resolve_precision('auto', on_gpu=False)}"
    )
    for name, make, steps in (("resnet", resnet_step, 15), ("question lstm", lstm_step, 40)):
        network, inputs, target, batch = make()
        rounds = {False: [], True: []}
        for _ in range(3):
            for bf16 in (False, True):
                rounds[bf16].append(rate(network, inputs, target, batch, bf16, steps))
        fp32, bf16 = statistics.median(rounds[False]), statistics.median(rounds[True])
        print(f"{name:14s} fp32 {fp32:7.0f}/s   bf16-mixed {bf16:7.0f}/s   bf16/fp32 {bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
