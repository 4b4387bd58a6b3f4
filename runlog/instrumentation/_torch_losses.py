"""Loss values read back in batches: never a device synchronisation, nor a log call, per step.

Each optimizer step hands `LossBuffer.add` its loss tensor. The step itself only keeps it:

- a CPU tensor is read at once (``item()``: there is no device to wait for, and one read is
  cheaper than keeping the tensor) and the float is kept;
- a device tensor is detached and stays where it is.

Every ``every`` steps, and at each epoch end and the run's end, the pending losses are
logged together (a batch never mixes the two kinds). Batching the CPU values too keeps the
per-step work to a read and two list appends: measured in ``bench/autolog_torch.py``'s loop,
a ``run.log`` call costs about 2 µs a step there (cold code between two torch steps),
against 0.5 µs in a tight loop. The points are logged, and so time-stamped, when their
batch is (at most ``every`` steps late). Device batches are stacked into one tensor on
their device and copied to the host:

- CUDA: a non-blocking copy into pinned memory plus a CUDA event; the values are logged
  once a later step finds the event done (``Event.query`` does not wait), so the training
  thread never waits for the GPU. `LossBuffer.drain` (run end, exit) waits for the rest.
- Other devices (MPS, XPU, …): one blocking read per batch, i.e. one sync per ``every``
  steps, never one per step.

Per-epoch means (``epoch_loss``) are computed from the values as they arrive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Pending losses are read back every this many optimizer steps (and at each epoch end).
DEFAULT_EVERY = 100

#: ``log(name, value, step=step)``: where the values go (the run's ``log``).
Log = Callable[..., None]


@dataclass
class _InFlight:
    """One batch on its way to the host: its steps, the host tensor and the copy's event."""

    steps: list[int]
    host: Any  # a tensor on the host, or the floats read from CPU losses
    event: Any = None

    def ready(self) -> bool:
        return self.event is None or bool(self.event.query())

    def values(self, wait: bool) -> list[float]:
        if isinstance(self.host, list):
            return self.host
        if wait and self.event is not None:
            self.event.synchronize()
        values: list[float] = self.host.tolist()
        return values


class LossBuffer:
    """Per-step losses logged as ``loss`` (step = optimizer step), device ones in batches."""

    __slots__ = (
        "_epoch_count",
        "_epoch_sum",
        "_epochs",
        "_in_flight",
        "_steps",
        "_tensors",
        "_values",
        "every",
        "log",
    )

    def __init__(self, log: Log, every: int = DEFAULT_EVERY) -> None:
        self.log = log
        self.every = every
        self._steps: list[int] = []
        self._tensors: list[Any] = []  # detached device losses, or
        self._values: list[float] = []  # the values of CPU losses (one kind at a time)
        self._in_flight: deque[_InFlight] = deque()
        #: (epoch number, its last optimizer step) of epochs whose mean is not logged yet.
        self._epochs: deque[tuple[int, int]] = deque()
        self._epoch_sum = 0.0
        self._epoch_count = 0

    def add(self, step: int, loss: Any) -> None:
        """Take the loss tensor of optimizer step *step*: O(1) but every ``every`` steps."""
        if loss.is_cpu:
            if self._tensors:
                self.flush()  # a batch holds one kind
            self._values.append(loss.item())
        else:
            if self._values:
                self.flush()
            self._tensors.append(loss.detach())
        self._steps.append(step)
        if len(self._steps) >= self.every:
            self.flush()

    def end_epoch(self, epoch: int, last_step: int) -> None:
        """Epoch *epoch* ended after *last_step*: read its values back, log its mean."""
        self._epochs.append((epoch, last_step))
        self.flush()

    def flush(self) -> None:
        """Start copying the pending losses to the host; log whatever has arrived."""
        # A batch never spans two epochs: end_epoch flushes.
        if self._values:
            self._in_flight.append(_InFlight(self._steps, self._values))
            self._steps, self._values = [], []
        elif self._tensors:
            self._in_flight.append(_copy_to_host(self._steps, self._tensors))
            self._steps, self._tensors = [], []
        self._emit(wait=False)

    def drain(self) -> None:
        """Wait for every pending loss and log it (run end, interpreter exit)."""
        self.flush()
        self._emit(wait=True)

    def _emit(self, wait: bool) -> None:
        while self._in_flight and (wait or self._in_flight[0].ready()):
            batch = self._in_flight.popleft()
            self._close_epochs(before=batch.steps[0])
            values = batch.values(wait)
            for step, value in zip(batch.steps, values, strict=True):
                self.log("loss", value, step=step)
            self._epoch_sum += sum(values)
            self._epoch_count += len(values)
        outstanding = self._in_flight[0].steps[0] if self._in_flight else None
        self._close_epochs(before=outstanding)

    def _close_epochs(self, before: int | None) -> None:
        """Log the mean of each epoch whose last step is before *before* (None: all)."""
        while self._epochs and (before is None or self._epochs[0][1] < before):
            epoch, _ = self._epochs.popleft()
            if self._epoch_count:
                self.log("epoch_loss", self._epoch_sum / self._epoch_count, step=epoch)
            self._epoch_sum, self._epoch_count = 0.0, 0


def _copy_to_host(steps: list[int], tensors: list[Any]) -> _InFlight:
    import torch

    try:
        stacked = torch.stack(tensors)  # the usual case: 0-d tensors of one dtype
    except RuntimeError:
        stacked = torch.stack([t.reshape(()).float() for t in tensors])
    if stacked.device.type == "cpu":
        return _InFlight(steps, stacked)
    if stacked.device.type == "cuda":
        host = stacked.to("cpu", non_blocking=True)  # pinned, asynchronous
        event = torch.cuda.Event()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        event.record()
        return _InFlight(steps, host, event)
    return _InFlight(steps, stacked.cpu())  # one blocking read per batch
