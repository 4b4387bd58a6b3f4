"""Overhead of PyTorch auto-instrumentation: `python bench/autolog_torch.py [--device cuda]`.

A small MLP (two linear layers, 32 -> 128 -> 1, batch 64, SGD with momentum, ``nn.MSELoss``)
trained for ``--epochs`` epochs, timed without and with `TorchInstrumentor` (logging into
a run on a real collector process), interleaved ``--repeat`` times (alternating which goes
first); the table shows medians per optimizer step and the percent slower. Two loaders:

- ``pre-batched``: the DataLoader yields whole batches already on the device, so a step is
  as cheap as it gets and every microsecond the instrumentation adds shows (worst case);
- ``per-sample``: ``DataLoader(TensorDataset(...), batch_size=64, shuffle=True)``, the
  way most scripts feed a small model.

On a shared machine the training thread's CPU time is the steadiest figure (what the loop
itself pays); process CPU time adds runlog's exporter thread; wall time adds device work
and waits.

On CUDA the pre-batched loop also runs under ``torch.cuda.set_sync_debug_mode("error")``
(a synchronising call raises), plain and instrumented: "no sync" for the instrumented loop
means no per-step (or any) synchronisation was added — the losses go to the host by an
asynchronous copy polled with a CUDA event.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from core import print_table, running_collector
from torch.utils.data import DataLoader, TensorDataset

import runlog
from runlog.instrumentation.torch import TorchInstrumentor

FEATURES, HIDDEN, BATCH = 32, 128, 64


LOADERS = ("pre-batched", "per-sample")
Times = tuple[float, float, float]  # wall, training-thread CPU, process CPU (seconds)


def make_loader(kind: str, batches: int, device: str) -> DataLoader[Any]:
    """*batches* batches of made-up regression data, fed the *kind* way."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batches, BATCH, FEATURES, generator=generator)
    y = x.sum(dim=2, keepdim=True) + 0.1 * torch.randn(batches, BATCH, 1, generator=generator)
    if kind == "pre-batched":  # one item is one whole batch, on the device already
        return DataLoader(TensorDataset(x.to(device), y.to(device)), batch_size=None)
    samples = TensorDataset(x.reshape(-1, FEATURES), y.reshape(-1, 1))
    return DataLoader(samples, batch_size=BATCH, shuffle=True, generator=generator)


def train(loader: DataLoader[Any], epochs: int, device: str) -> Times:
    """The plain training loop (it never reads a value back); returns its times."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    criterion = torch.nn.MSELoss()
    synchronize(device)
    start, thread, cpu = time.perf_counter(), time.thread_time(), time.process_time()
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
    synchronize(device)
    return time.perf_counter() - start, time.thread_time() - thread, time.process_time() - cpu


def synchronize(device: str) -> None:
    """Wait for the device (timing only; never inside the sync check)."""
    if device == "cuda" and not _checking_sync:
        torch.cuda.synchronize()


_checking_sync = False


def instrumented(ws: runlog.Workspace, loader: DataLoader[Any], epochs: int, device: str) -> Times:
    """The same loop with instrumentation on, into a fresh run (set-up and drain untimed)."""
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    run = runlog.Experiment(ws, "bench-autolog-torch").start_logging()
    try:
        return train(loader, epochs, device)
    finally:
        run.complete()
        instrumentor.uninstrument()


def interleaved(repeat: int, plain: Callable[[], Times], wrapped: Callable[[], Times]) -> Any:
    """*repeat* rounds of both, alternating which goes first (drift hits both alike)."""
    times: dict[str, list[Times]] = {"plain": [], "wrapped": []}
    for round_ in range(repeat):
        order = [("plain", plain), ("wrapped", wrapped)]
        for name, measure in order if round_ % 2 == 0 else order[::-1]:
            times[name].append(measure())
    return times


def check_sync(ws: runlog.Workspace, loader: DataLoader[Any]) -> list[str]:
    """The plain and the instrumented CUDA loop under ``set_sync_debug_mode("error")``.

    Only the loop runs in that mode: the run's end (which waits for the last losses on
    purpose) comes after it.
    """
    verdicts = [synchronisations(lambda: train(loader, 2, "cuda"))]
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    run = runlog.Experiment(ws, "bench-autolog-torch-sync").start_logging()
    try:
        verdicts.append(synchronisations(lambda: train(loader, 2, "cuda")))
    finally:
        run.complete()
        instrumentor.uninstrument()
    return verdicts


def synchronisations(loop: Callable[[], Any]) -> str:
    """Run *loop* with synchronising CUDA calls made errors; say whether one happened."""
    global _checking_sync
    _checking_sync = True
    torch.cuda.set_sync_debug_mode("error")
    try:
        loop()
        return "no sync"
    except RuntimeError as exc:
        return f"SYNC: {str(exc).splitlines()[0][:80]}"
    finally:
        torch.cuda.set_sync_debug_mode("default")
        _checking_sync = False


def rows_for(kind: str, device: str, steps: int, times: dict[str, list[Times]]) -> list[Any]:
    rows = []
    for index, clock in enumerate(("wall", "training-thread CPU", "process CPU")):
        base = statistics.median(t[index] for t in times["plain"]) / steps * 1e6
        inst = statistics.median(t[index] for t in times["wrapped"]) / steps * 1e6
        rows.append(
            (
                f"{device}, {kind}, {steps} steps: {clock} per step",
                f"instrumented {inst:.1f} µs",
                f"plain {base:.1f} µs",
                f"{(inst / base - 1) * 100:+.1f}% ({inst - base:+.1f} µs)",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batches", type=int, default=300, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    torch.set_num_threads(args.threads)
    steps = args.batches * args.epochs
    rows: list[Any] = []
    with running_collector() as (collector, _tmp):
        ws = runlog.Workspace(collector.endpoint)
        for kind in LOADERS:
            loader = make_loader(kind, args.batches, args.device)
            train(loader, 1, args.device)  # warm-up: kernels, allocator
            instrumented(ws, loader, 1, args.device)
            times = interleaved(
                args.repeat,
                lambda: train(loader, args.epochs, args.device),  # noqa: B023
                lambda: instrumented(ws, loader, args.epochs, args.device),  # noqa: B023
            )
            rows += rows_for(kind, args.device, steps, times)
        verdicts = None
        if args.device == "cuda":
            verdicts = check_sync(ws, make_loader("pre-batched", args.batches, "cuda"))
    print_table(rows, args.repeat)
    if verdicts is not None:
        print(f"sync_debug_mode=error: plain loop: {verdicts[0]}; instrumented: {verdicts[1]}")


if __name__ == "__main__":
    main()
