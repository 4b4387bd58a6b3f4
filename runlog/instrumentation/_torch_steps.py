"""The state of a plain PyTorch training loop, as the wrappers in `torch` see it.

`StepTracker` is fed by the wrappers (backward, loss modules, optimizer steps, DataLoader
exhaustion, ``torch.save``) and writes into the run:

- params at the first optimizer step: ``model_class``, ``model_parameters``,
  ``model_trainable_parameters``, ``optimizer`` (+ ``optimizer.<default>``), ``loss_function``;
- ``loss``: one value per optimizer step (step = the step's number), the loss of the last
  scalar ``backward()`` before the step, else the last ``torch.nn`` loss module output;
  read back in batches by `LossBuffer` (no per-step device sync);
- ``lr`` (``lr_group1``…, ``lr_opt1``… for further optimizers): logged when it changes;
- ``epoch`` and ``epoch_loss`` when a DataLoader that fed optimizer steps is exhausted;
- ``optimizer_steps``: the count, once, when the run ends (or the process exits).

Loops that update the weights by hand (``p.data.add_(p.grad, alpha=-lr)``, as
pytorch/examples' word_language_model does) have no optimizer step: while no optimizer
was ever created in the process, each scalar ``backward()`` is a step, and its tensor the
step's loss (param ``optimizer`` = ``none``). Epochs are counted only from DataLoaders: a
loop over tensors it slices itself has steps and losses but no ``epoch``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

from runlog import _lifecycle
from runlog._objects import Run, script_name
from runlog.instrumentation import _printed
from runlog.instrumentation._base import _SUPPRESSED, current_run, safely
from runlog.instrumentation._torch_losses import DEFAULT_EVERY, LossBuffer
from runlog.instrumentation._torch_run import acquire_run, output_name

#: Modules remembered (in call order) before the first step, to find the trained model.
MAX_CANDIDATES = 64
#: Module calls after which the hook goes even without an optimizer step (inference-only
#: code keeps torch's fast path for module calls after these).
MAX_WATCHED_CALLS = 10_000
_STAMP = "_runlog_steps_at_iter"
#: Metric names a run of this tracker records (a printed ``loss=`` goes to ``stdout.loss``).
CLAIMED_NAMES = ("loss", "epoch_loss", "lr", "optimizer_steps")


class StepTracker:
    """Optimizer steps, losses, learning rates and epochs of the current run."""

    def __init__(self) -> None:
        self.log_models = True
        self.loss_every = DEFAULT_EVERY
        self._earlier_steps = 0  # steps of finished runs: see `total_steps`
        self.last_backward: Any = None
        self.last_loss: Any = None
        self.loss_module: Any = None
        self.scaled: Any = None  # GradScaler.scale's output, and its input (the real loss)
        self.unscaled: Any = None
        #: Set by `TorchInstrumentor`: stop / start intercepting loss modules' ``forward``.
        self.park_loss_modules: Callable[[], None] = _nothing
        self.resume_loss_modules: Callable[[], None] = _nothing
        self._candidates: dict[int, Any] = {}
        self._module_hook: Any = None
        self._watched_calls = 0
        #: Optimizers alive in this process; with none, ``backward()`` makes the steps.
        self.optimizers_made = 0
        #: Files ``torch.save`` wrote through a file object: uploaded when the run ends.
        self._saved_handles: dict[str, str] = {}
        self._reset()

    def _reset(self) -> None:
        self.run: Run | None = None
        self.steps = 0
        self.epochs = 0
        self.losses: LossBuffer | None = None
        self._lrs: dict[int, list[Any]] = {}  # id(optimizer) -> its groups' lr objects
        self._optimizers: dict[int, int] = {}
        self._single: Any = None  # see `_check_lrs`
        self._lr: Any = None

    # --- model discovery (a global forward pre-hook until the first step) -----------------
    def watch_modules(self) -> None:
        """Remember the modules called before the first step (the model is among them)."""
        from torch.nn.modules.module import register_module_forward_pre_hook

        if self._module_hook is None:
            self._candidates.clear()
            self._watched_calls = 0
            self._module_hook = register_module_forward_pre_hook(self.note_module)

    def unwatch_modules(self) -> None:
        """Remove the global forward pre-hook (module calls take torch's fast path again)."""
        if self._module_hook is not None:
            self._module_hook.remove()
            self._module_hook = None

    def note_module(self, module: Any, args: Any) -> None:
        """Forward pre-hook: remember *module* (outermost modules are called first)."""
        self._watched_calls += 1
        if self._watched_calls > MAX_WATCHED_CALLS:
            self.unwatch_modules()  # torch copies its hooks before calling them: safe here
        elif len(self._candidates) < MAX_CANDIDATES:
            self._candidates.setdefault(id(module), module)

    def _model(self, optimizer: Any) -> Any:
        """The remembered module holding most of the optimizer's parameters (outermost wins);
        without an optimizer, the one with most trainable parameters."""
        if optimizer is None:
            ids = None
        else:
            ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        best, best_count = None, 0
        for module in self._candidates.values():
            count = sum(
                1 for p in module.parameters() if (p.requires_grad if ids is None else id(p) in ids)
            )
            if count > best_count:
                best, best_count = module, count
        return best

    # --- events from the wrappers --------------------------------------------------------
    def step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        """torch's global optimizer step post-hook: count the step, log its loss and lr.

        The hot path of the instrumentation, hence one flat method with no call that is not
        needed (each costs about a microsecond in a real loop, where this code runs cold):
        the loss is the last scalar ``backward()`` since the previous step, else the last
        loss module output; learning rates are compared by identity (no value read).
        Not `safely` either: that costs two ContextVar round trips a step.
        """
        if _SUPPRESSED.get():
            return
        self.optimizers_made = self.optimizers_made or 1  # made before instrumentation
        try:
            if self.run is None and not self._begin(optimizer):
                return  # distributed training: rank 0 records
            self.steps = step = self.steps + 1
            loss, output = self.last_backward, self.last_loss
            self.last_backward = self.last_loss = None
            if loss is None or loss.ndim:
                loss = output if output is not None and getattr(output, "ndim", 1) == 0 else None
            if self.scaled is not None:  # mixed precision: the loss before scaling
                loss = self.unscaled if loss is self.scaled else loss
                self.scaled = self.unscaled = None
            if loss is not None and self.losses is not None:
                self.losses.add(step, loss)
            groups = optimizer.param_groups
            if optimizer is self._single and len(groups) == 1 and groups[0].get("lr") is self._lr:
                return  # the usual step: one optimizer, one group, its lr object unchanged
            self._check_lrs(optimizer)
        except Exception as exc:
            safely("torch: optimizer step", _reraise, exc)  # logged once, or raised (strict)

    def optimizer_gone(self) -> None:
        """An optimizer was garbage collected (a later hand-written loop counts again)."""
        self.optimizers_made = max(0, self.optimizers_made - 1)

    def backward_step(self, loss: Any) -> None:
        """A scalar ``backward()`` in a process without optimizers: one hand-made step."""
        try:
            if self.run is None and not self._begin(None):
                return
            self.steps = step = self.steps + 1
            self.last_backward = self.last_loss = None
            if self.losses is not None:
                self.losses.add(step, loss)
        except Exception as exc:
            safely("torch: a hand-made step", _reraise, exc)

    @property
    def total_steps(self) -> int:
        """Optimizer steps of every run so far (DataLoader iterators are stamped with it)."""
        return self._earlier_steps + self.steps

    def on_loader_iter(self, iterator: Any) -> None:
        """A DataLoader iteration began: stamp its iterator with the step count."""
        # An iterator without attributes: its epochs are not counted.
        with contextlib.suppress(AttributeError, TypeError):
            setattr(iterator, _STAMP, self.total_steps)

    def on_loader_exhausted(self, iterator: Any) -> None:
        """A DataLoader was exhausted: an epoch ended if optimizer steps ran during it."""
        start = vars(iterator).pop(_STAMP, None) if hasattr(iterator, "__dict__") else None
        if start is None or self.total_steps == start or self.run is None:
            return
        self.epochs += 1
        self.run.log("epoch", self.epochs, step=self.epochs)
        if self.losses is not None:
            self.losses.end_epoch(self.epochs, self.steps)

    def on_save(self, target: Any) -> None:
        """``torch.save(obj, target)`` returned: upload the file to the active run."""
        if not self.log_models or other_rank():
            return
        if not isinstance(target, (str, os.PathLike)):
            # A file object: its content is complete once it is closed, so it is uploaded
            # when the run ends (a BytesIO or a pipe has no file to upload).
            path = getattr(target, "name", None)
            if isinstance(path, (str, os.PathLike)) and os.path.isfile(path):
                self._saved_handles[output_name(path)] = os.path.abspath(path)
            return
        run = current_run()
        if run is not None:
            run.upload_file(output_name(target), target)

    def _upload_saved_handles(self, run: Run) -> None:
        for name, path in self._saved_handles.items():
            if os.path.isfile(path):
                run.upload_file(name, path)
        self._saved_handles.clear()

    # --- the run --------------------------------------------------------------------------
    def _begin(self, optimizer: Any) -> bool:
        """The first step of a run: acquire it, log the summary; False on ranks but 0.

        *optimizer* is None for a loop that updates its weights by hand."""
        if other_rank():
            return False
        model = self._model(optimizer)
        self.unwatch_modules()
        run = acquire_run(type(model).__name__ if model is not None else script_name())
        self.run = run
        _printed.claim(CLAIMED_NAMES)
        self.losses = LossBuffer(run.log, self.loss_every)
        run.record_params(self._summary(optimizer, model))
        _lifecycle.on_finish(run, functools.partial(self.finish, run))
        if self.last_backward is not None and self.last_backward.ndim == 0:
            # ``backward()`` gives this run's losses: the loss modules' outputs are not
            # needed any more (their name is in the summary), so stop intercepting them.
            self.park_loss_modules()
        return True

    def _summary(self, optimizer: Any, model: Any) -> dict[str, Any]:
        if model is not None:
            params = list(model.parameters())
        elif optimizer is not None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
        else:
            params = []
        summary: dict[str, Any] = {
            "model_class": type(model).__name__ if model is not None else "unknown",
            "model_parameters": sum(p.numel() for p in params),
            "model_trainable_parameters": sum(p.numel() for p in params if p.requires_grad),
            "optimizer": type(optimizer).__name__ if optimizer is not None else "none",
        }
        defaults = optimizer.defaults if optimizer is not None else {}
        for key, value in defaults.items():
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                summary[f"optimizer.{key}"] = value
        if self.loss_module is not None:
            summary["loss_function"] = type(self.loss_module).__name__
        return summary

    def _check_lrs(self, optimizer: Any) -> None:
        """Log the learning rates that are not the objects seen at the optimizer's last step.

        Identity, not equality: no value is read on the usual step (an lr may be a tensor).
        """
        groups = optimizer.param_groups
        seen = self._lrs.get(id(optimizer), ())
        if len(seen) != len(groups) or any(
            group.get("lr") is not last for group, last in zip(groups, seen, strict=True)
        ):
            self._log_lrs(optimizer, seen)
        # The fast path of `step_hook` covers the one optimizer with one param group.
        single = len(self._lrs) == 1 and len(groups) == 1
        self._single = optimizer if single else None
        self._lr = groups[0].get("lr") if single else None

    def _log_lrs(self, optimizer: Any, seen: Sequence[Any]) -> None:
        """Log the learning rates that differ from *seen* (those of the last step)."""
        index = self._optimizers.setdefault(id(optimizer), len(self._optimizers))
        current = [group.get("lr") for group in optimizer.param_groups]
        self._lrs[id(optimizer)] = current
        for group_index, lr in enumerate(current):
            if group_index < len(seen) and _same(lr, seen[group_index]):
                continue
            value = lr if isinstance(lr, (int, float)) else _host_scalar(lr)
            if value is not None and self.run is not None:
                self.run.log(_lr_name(index, group_index), value, step=self.steps)

    def finish(self, run: Run | None = None, follow: bool = True) -> None:
        """Read back the last losses and log the step count; then follow the next run.

        Called when *run* finishes, and (``run=None``: any run; ``follow=False``: no
        next run to watch for) at exit and on uninstrument.
        """
        if self.run is None or (run is not None and run is not self.run):
            return
        if self.losses is not None:
            self.losses.drain()
        self._upload_saved_handles(self.run)
        self.run.log("optimizer_steps", self.steps)
        self._earlier_steps += self.steps
        self._reset()
        if follow:
            self.watch_modules()
            self.resume_loss_modules()


def _nothing() -> None:
    pass


def _reraise(exc: Exception) -> None:
    raise exc


def other_rank() -> bool:
    """Whether this process is a rank other than 0 of distributed training (it records nothing)."""
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


def _lr_name(optimizer_index: int, group_index: int) -> str:
    name = "lr" if group_index == 0 else f"lr_group{group_index}"
    return name if optimizer_index == 0 else f"{name}_opt{optimizer_index}"


def _same(lr: Any, last: Any) -> bool:
    """Equal learning rates; tensors count as equal only if they are one object (no sync)."""
    if isinstance(lr, (int, float)) and isinstance(last, (int, float)):
        return lr == last
    return lr is last


def _host_scalar(value: Any) -> float | None:
    """A learning rate held in a CPU tensor, as a float; None for device tensors (no sync)."""
    device = getattr(value, "device", None)
    if device is None or device.type != "cpu":
        return None
    return float(value)
