"""Overhead of PyTorch auto-instrumentation: `python bench/autolog_torch.py [--device cuda]`.

A small MLP (two linear layers, batch 64) trained for ``--epochs`` epochs over a
DataLoader of pre-made batches, with SGD and ``nn.MSELoss``: the same loop timed without
and with `TorchInstrumentor` (logging into a run on a real collector process), interleaved,
``--repeat`` times each; the table shows the medians and the percent slower. The batches
sit on the device already and the loop never reads a value back, so any wait the
instrumentation adds shows in full (the worst case for the ratio).

On CUDA the instrumented loop also runs once under ``torch.cuda.set_sync_debug_mode("error")``
(any synchronising call raises), after the same check of the plain loop: "no per-step sync"
means the instrumented loop ran to the end without one. Losses are read back by an
asynchronous copy and an event, so the check covers the read-back too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
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


def make_data(batches: int, device: str) -> DataLoader[Any]:
    """Pre-made batches on *device*: the DataLoader yields one whole batch per item."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batches, BATCH, FEATURES, generator=generator)
    y = x.sum(dim=2, keepdim=True) + 0.1 * torch.randn(batches, BATCH, 1, generator=generator)
    return DataLoader(TensorDataset(x.to(device), y.to(device)), batch_size=None)


def train(loader: DataLoader[Any], epochs: int, device: str) -> tuple[float, float, float]:
    """The plain training loop; returns its wall, training-thread CPU and process CPU time.

    On a shared machine the training thread's CPU time is the steadiest figure (what the
    loop itself pays); process CPU time adds runlog's exporter thread (its HTTP sends every
    0.25 s); wall time includes device work and waits.
    """
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    criterion = torch.nn.MSELoss()
    synchronize()
    start, thread, cpu = time.perf_counter(), time.thread_time(), time.process_time()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
    synchronize()
    return (
        time.perf_counter() - start,
        time.thread_time() - thread,
        time.process_time() - cpu,
    )


def synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def instrumented(
    ws: runlog.Workspace, loader: DataLoader[Any], epochs: int, device: str
) -> tuple[float, float, float]:
    """The same loop with instrumentation on, into a fresh run (set-up and drain untimed)."""
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    run = runlog.Experiment(ws, "bench-autolog-torch").start_logging()
    try:
        return train(loader, epochs, device)
    finally:
        run.complete()
        instrumentor.uninstrument()


def check_sync(ws: runlog.Workspace, loader: DataLoader[Any], epochs: int) -> tuple[str, str]:
    """Plain and instrumented CUDA loops under ``set_sync_debug_mode("error")``."""
    verdicts = []
    for wrap in (False, True):
        instrumentor = TorchInstrumentor()
        run = None
        if wrap:
            instrumentor.instrument()
            run = runlog.Experiment(ws, "bench-autolog-torch-sync").start_logging()
        torch.cuda.set_sync_debug_mode("error")
        try:
            train(loader, epochs, "cuda") if not wrap else _train_unsynced(loader, epochs)
            verdicts.append("no sync")
        except RuntimeError as exc:
            verdicts.append(f"SYNC: {str(exc).splitlines()[0][:70]}")
        finally:
            torch.cuda.set_sync_debug_mode("default")
            if run is not None:
                run.complete()
                instrumentor.uninstrument()
    return verdicts[0], verdicts[1]


def _train_unsynced(loader: DataLoader[Any], epochs: int) -> None:
    """`train` without its timing synchronisations (they would trip the check)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)
    ).to("cuda")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    criterion = torch.nn.MSELoss()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batches", type=int, default=500, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    torch.set_num_threads(args.threads)
    loader = make_data(args.batches, args.device)
    steps = args.batches * args.epochs
    with running_collector() as (collector, _tmp):
        ws = runlog.Workspace(collector.endpoint)
        train(loader, 1, args.device)  # warm-up: kernels, allocator
        instrumented(ws, loader, 1, args.device)
        plain, wrapped = [], []
        for _ in range(args.repeat):
            plain.append(train(loader, args.epochs, args.device))
            wrapped.append(instrumented(ws, loader, args.epochs, args.device))
        verdicts = check_sync(ws, loader, 1) if args.device == "cuda" else None
    rows = []
    for index, clock in enumerate(("wall", "training-thread CPU", "process CPU")):
        base = statistics.median(t[index] for t in plain) / steps * 1e6
        inst = statistics.median(t[index] for t in wrapped) / steps * 1e6
        rows.append(
            (
                f"{args.device} MLP, {steps} steps: {clock} time per step",
                f"instrumented {inst:.1f} µs",
                f"plain {base:.1f} µs",
                f"{(inst / base - 1) * 100:+.1f}% ({inst - base:+.1f} µs/step)",
            )
        )
    print_table(rows, args.repeat)
    if verdicts is not None:
        print(f"sync_debug_mode=error: plain loop: {verdicts[0]}; instrumented: {verdicts[1]}")


if __name__ == "__main__":
    main()
