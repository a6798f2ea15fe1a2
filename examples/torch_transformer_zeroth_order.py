"""Fine-tune a PyTorch transformer without backprop: ``dlt.torch.ZerothOrder`` against Adam.

A small ``nn.TransformerEncoder`` (2 layers, width 64, 69K parameters) reads sequences of 16
tokens out of 8. It is first pretrained with Adam and backprop to name the *most* frequent
token (99%+ test accuracy in 300 steps), then fine-tuned, from the same pretrained weights and
a fresh output layer, to name the *least* frequent one:

* ``Adam + backprop``: ``torch.optim.Adam`` (lr 1e-3), gradients by autograd;
* ``ZerothOrder spsa`` and ``ZerothOrder gaussian``: ``dlt.torch.ZerothOrder`` (lr 1e-3,
  scale 1e-3, one direction a step): two forward passes a step under ``torch.no_grad()``,
  the parameters perturbed in place and restored bit for bit;
* ``inference only``: the two forward passes of a zeroth-order step and nothing else, the
  memory a zeroth-order step should need.

Each run is a separate process, so that peak memories do not mix: after setting up (data,
model, weights) it resets the kernel's peak-RSS counter (``/proc/self/clear_refs``) and
reports ``VmHWM`` minus the RSS at that point (tracemalloc does not see torch's buffers;
for the larger encoder below, glibc returns every freed tensor at once,
``MALLOC_MMAP_THRESHOLD_=65536``, so that the peak follows the live tensors).
Seconds are the CPU time of the training steps (one torch thread a process by default, so
the same as wall-clock time on an idle machine, and unaffected by other processes' load).
Test accuracy is measured every few steps, outside the timed training, in batches of 64. A
second table measures peak memory on a larger encoder (4 layers, width 256, 3.2M parameters,
batches of 32 sequences of 64 tokens) over 3 training steps, where activations and optimizer
state dominate.

Run: ``python examples/torch_transformer_zeroth_order.py`` (about 2 minutes of CPU time, one
process at a time: 1 min 53 s measured, so about as long on an idle machine),
``--quick`` for a smoke run. Writes ``docs/images/torch_transformer_zeroth_order.png``.
Needs torch and matplotlib.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import deep_learning_toolkit as dlt

FIGURE = (
    Path(__file__).resolve().parents[1] / "docs" / "images" / "torch_transformer_zeroth_order.png"
)
VOCABULARY, LENGTH, BATCH = 8, 16, 64
TARGET = 0.9
RUNS = {  # name: (label, steps, evaluation interval) at full length
    "adam": ("Adam + backprop", 300, 10),
    "spsa": ("ZerothOrder spsa", 2500, 100),
    "gaussian": ("ZerothOrder gaussian", 2500, 100),
    "inference": ("inference only", 300, 0),
}


class Encoder(nn.Module):
    """Token and position embeddings, a TransformerEncoder, mean pooling, a linear head."""

    def __init__(
        self, width: int = 64, layers: int = 2, feedforward: int = 128, length: int = LENGTH
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCABULARY, width)
        self.position = nn.Parameter(torch.randn(length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, nhead=4, dim_feedforward=feedforward, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, VOCABULARY)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens) + self.position).mean(1))


def sequences(n: int, task: str, seed: int, length: int = LENGTH):
    """Token sequences whose most ("majority") or least ("minority") frequent token is unique."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCABULARY, (n, length), generator=generator)
    counts = nn.functional.one_hot(tokens, VOCABULARY).sum(1)
    signed = counts if task == "majority" else -counts
    top = signed.topk(2, dim=1).values
    keep = top[:, 0] > top[:, 1]
    return tokens[keep], signed[keep].argmax(1)


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    hits = sum(
        (model(X[i : i + BATCH]).argmax(1) == y[i : i + BATCH]).sum().item()
        for i in range(0, len(y), BATCH)
    )
    return hits / len(y)


def pretrain(path: Path, steps: int) -> float:
    """Adam on the majority task; saves the weights to ``path``; returns the test accuracy."""
    torch.manual_seed(0)
    model = Encoder()
    X, y = sequences(20_000, "majority", seed=1)
    X_test, y_test = sequences(2_000, "majority", seed=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = torch.Generator().manual_seed(3)
    for _ in range(steps):
        index = torch.randint(0, len(y), (BATCH,), generator=batches)
        loss = nn.functional.cross_entropy(model(X[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save(model.state_dict(), path)
    return accuracy(model, X_test, y_test)


# --------------------------------------------------------------------------- memory
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_memory() -> int | None:
    """Reset the kernel's peak RSS of this process; return the RSS now (KiB), None if unable."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except (OSError, KeyError):
        return None


def peak_growth_mib(baseline: int | None) -> float | None:
    return None if baseline is None else (_status_kib("VmHWM") - baseline) / 1024


# --------------------------------------------------------------------------- one run
def step_function(name: str, model: nn.Module, lr: float):
    """``step(X, y)`` of the run ``name``: one training (or inference-only) step."""
    loss_of = nn.functional.cross_entropy
    if name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)

        def step(X: torch.Tensor, y: torch.Tensor) -> None:
            loss = loss_of(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step
    if name == "inference":

        @torch.no_grad()
        def step(X: torch.Tensor, y: torch.Tensor) -> None:
            loss_of(model(X), y)
            loss_of(model(X), y)

        return step
    optimizer = dlt.torch.ZerothOrder(model.parameters(), lr=lr, method=name, scale=1e-3)
    return lambda X, y: optimizer.step(lambda: loss_of(model(X), y))


def worker(name: str, checkpoint: str, steps: int, every: int) -> dict:
    """Fine-tune on the minority task from ``checkpoint``; return the curve and peak memory."""
    model = Encoder()
    model.load_state_dict(torch.load(checkpoint))
    torch.manual_seed(5)
    model.head = nn.Linear(model.head.in_features, VOCABULARY)  # a fresh output layer
    X, y = sequences(20_000, "minority", seed=11)
    X_test, y_test = sequences(2_000, "minority", seed=12)
    batches = torch.Generator().manual_seed(13)
    step = step_function(name, model, lr=1e-3)
    curve, seconds = [(0, 0.0, accuracy(model, X_test, y_test))], 0.0
    baseline = reset_peak_memory()
    for number in range(1, steps + 1):
        index = torch.randint(0, len(y), (BATCH,), generator=batches)
        X_batch, y_batch = X[index], y[index]
        start = time.process_time()
        step(X_batch, y_batch)
        seconds += time.process_time() - start
        if every and (number % every == 0 or number == steps):
            curve.append((number, seconds, accuracy(model, X_test, y_test)))
    if not every:
        curve.append((steps, seconds, float("nan")))
    return {"name": name, "curve": curve, "peak_mib": peak_growth_mib(baseline)}


def scale_worker(name: str, steps: int = 3) -> dict:
    """Peak memory of ``steps`` steps of a 4-layer, width-256 encoder on 32 x 64 tokens."""
    torch.manual_seed(0)
    model = Encoder(width=256, layers=4, feedforward=1024, length=64)
    X = torch.randint(0, VOCABULARY, (32, 64), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, VOCABULARY, (32,), generator=torch.Generator().manual_seed(1))
    step = step_function(name, model, lr=1e-4)
    baseline = reset_peak_memory()
    step(X, y)  # the first step allocates Adam's state: part of the peak, not of the time
    start = time.process_time()
    for _ in range(steps - 1):
        step(X, y)
    seconds = (time.process_time() - start) / (steps - 1)
    parameters = sum(p.numel() for p in model.parameters())
    return {
        "name": name,
        "peak_mib": peak_growth_mib(baseline),
        "seconds": seconds,
        "parameters": parameters,
    }


# --------------------------------------------------------------------------- driver
def run_worker(arguments: list[str], threads: int, exact_rss: bool = False) -> dict:
    """Run this file as a worker process and return the JSON it prints last.

    With ``exact_rss`` glibc gets a fixed mmap threshold, so that it hands every freed tensor
    above 64 KiB back to the system at once and the peak RSS follows the live tensors (else
    +-10 MiB of noise at the larger size); it costs time (a fresh mapping per tensor).
    """
    command = [sys.executable, __file__, "--threads", str(threads), *arguments]
    environment = {**os.environ, **({"MALLOC_MMAP_THRESHOLD_": "65536"} if exact_rss else {})}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    if result.returncode != 0:
        raise RuntimeError(f"worker {arguments} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def first_reaching(curve: list, target: float) -> tuple[str, str]:
    hits = [(step, seconds) for step, seconds, value in curve if value >= target]
    return (f"{hits[0][0]:,}", f"{hits[0][1]:.1f}") if hits else ("never", "never")


def mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def fine_tuning_table(results: dict[str, dict]) -> str:
    rows = [
        "| run | steps | training seconds (CPU) | final test accuracy | steps to 90% "
        "| seconds to 90% | peak memory beyond the model (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        steps, seconds, final = result["curve"][-1]
        reach = first_reaching(result["curve"], TARGET) if name != "inference" else ("", "")
        shown = f"{final:.1%}" if name != "inference" else "(no training)"
        rows.append(
            f"| {RUNS[name][0]} | {steps:,} | {seconds:.1f} | {shown} | {reach[0]} | "
            f"{reach[1]} | {mib(result['peak_mib'])} |"
        )
    return "\n".join(rows)


def scale_table(results: dict[str, dict]) -> str:
    parameters = next(iter(results.values()))["parameters"]
    rows = [
        f"| run ({parameters:,} parameters, batch 32 x 64 tokens) | CPU seconds a step "
        "| peak memory beyond the model (MiB) |",
        "|---|---|---|",
    ]
    for name, result in results.items():
        rows.append(f"| {RUNS[name][0]} | {result['seconds']:.2f} | {mib(result['peak_mib'])} |")
    return "\n".join(rows)


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, result in results.items():
        if name == "inference":
            continue
        steps, seconds, values = zip(*result["curve"])
        axes[0].plot([max(s, 1) for s in steps], values, label=RUNS[name][0])
        axes[1].plot(seconds, values, label=RUNS[name][0])
    axes[0].set_xscale("log")
    axes[0].set_xlabel("training steps (log scale; step 0 drawn at 1)")
    axes[1].set_xlabel("training seconds (CPU, one thread)")
    for axis in axes:
        axis.set_ylabel("test accuracy (least frequent token)")
        axis.axhline(TARGET, color="grey", linewidth=0.8, linestyle=":")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("Fine-tuning a pretrained transformer encoder: zeroth-order vs backprop")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--figure", type=Path, default=FIGURE)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scale", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--every", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker and args.scale:
        print(json.dumps(scale_worker(args.worker)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.checkpoint, args.steps, args.every)))
        return
    shrink = 20 if args.quick else 1
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "pretrained.pt"
        start = time.perf_counter()
        pretrained = pretrain(checkpoint, 300 // shrink)
        print(
            f"pretrained on the majority task: {pretrained:.1%} test accuracy "
            f"({time.perf_counter() - start:.1f} s)"
        )
        results = {}
        for name, (label, steps, every) in RUNS.items():
            steps = max(steps // shrink, 2)
            every = max(every // shrink, 1) if every else 0
            arguments = [
                "--worker",
                name,
                "--checkpoint",
                str(checkpoint),
                "--steps",
                str(steps),
                "--every",
                str(every),
            ]
            results[name] = run_worker(arguments, args.threads)
            print(f"  {label}: done", flush=True)
    print()
    print(fine_tuning_table(results))
    scale = {}
    for name in ("adam", "spsa", "inference"):
        scale[name] = run_worker(["--worker", name, "--scale"], args.threads, exact_rss=True)
    print()
    print(scale_table(scale))
    plot(results, args.figure)
    print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
