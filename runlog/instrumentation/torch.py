"""PyTorch auto-instrumentation: plain training loops become runs with no code change.

>>> from runlog.instrumentation.torch import TorchInstrumentor
>>> TorchInstrumentor().instrument()   # or runlog.autolog() / runlog run -- python train.py

What is recorded (see `runlog.instrumentation._torch_steps` for the names):

- optimizer steps, through torch's global optimizer step post-hook: their count, the
  learning rate of each param group (when it changes), and at the first step a model
  summary (class, total and trainable parameter counts, optimizer and its defaults);
- one ``loss`` per optimizer step, from ``Tensor.backward()`` on a scalar and the outputs
  of ``torch.nn`` loss modules (with ``GradScaler``: the loss before scaling). **No
  per-step sync**: a CPU loss is read at once (there is no device to wait for); a device
  loss stays on the device; both are logged in batches every ``loss_every`` steps
  (default 100), at each epoch end and at the run's end (`_torch_losses`); on CUDA the
  read-back is an asynchronous copy polled with an event, so the training thread never
  waits until the run ends;
- ``epoch`` / ``epoch_loss`` when a DataLoader that fed optimizer steps is exhausted;
- loops that update the weights by hand (no optimizer in the process): each scalar
  ``backward()`` is a step and its tensor the step's loss;
- ``torch.save(obj, path)`` files uploaded as run outputs (``log_models=False``: not); a
  file object with a file behind it (``open(path, "wb")``) when the run ends;
- ``SummaryWriter`` scalars, images and hparams mirrored (`runlog.instrumentation._tensorboard`);
- Lightning's ``Trainer.fit`` (`runlog.instrumentation.lightning`); the plain-torch
  wrappers are suppressed inside it, so nothing is recorded twice.

The three calls made on every batch (``Tensor.backward``, loss modules' ``forward``,
the DataLoader iterator's ``__next__``) are patched with plain functions rather than
wrapt proxies, for speed (`runlog.instrumentation._torch_hot`); the loss modules'
patches are lifted for the rest of a run once ``backward()`` gives its losses.

With no active run, the first optimizer step starts one named after the model class; the
process owns it and runlog completes it at exit. In distributed training only rank 0
records.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from runlog import _shutdown
from runlog.instrumentation import _tensorboard, _torch_hot, lightning
from runlog.instrumentation._base import Instrumentor, Target, safely, suppressed
from runlog.instrumentation._torch_losses import DEFAULT_EVERY
from runlog.instrumentation._torch_steps import StepTracker

_LOSSES = "torch.nn.modules.loss"
_LOADER = "torch.utils.data.dataloader"
_ORIGINAL = Callable[..., Any]


# --- wrappers: module-level, the tracker injected by `functools.partial` --------------------
def _wrap_scale(
    tracker: StepTracker, wrapped: _ORIGINAL, instance: Any, args: Any, kwargs: Any
) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():  # remember the unscaled loss behind ``scaler.scale(loss).backward()``
        tracker.scaled, tracker.unscaled = result, args[0] if args else kwargs.get("outputs")
    return result


def _wrap_loader_iter(
    tracker: StepTracker, wrapped: _ORIGINAL, instance: Any, args: Any, kwargs: Any
) -> Any:
    iterator = wrapped(*args, **kwargs)
    if not suppressed():
        safely("torch: DataLoader.__iter__", tracker.on_loader_iter, iterator)
    return iterator


def _wrap_optimizer_init(
    tracker: StepTracker, wrapped: _ORIGINAL, instance: Any, args: Any, kwargs: Any
) -> Any:
    result = wrapped(*args, **kwargs)
    tracker.optimizers_made += 1  # from now on optimizer steps, not backward(), are steps
    return result


def _wrap_save(
    tracker: StepTracker, wrapped: _ORIGINAL, instance: Any, args: Any, kwargs: Any
) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():
        target = args[1] if len(args) > 1 else kwargs.get("f")
        safely("torch: torch.save", tracker.on_save, target)
    return result


# --- the instrumentor -----------------------------------------------------------------------
class TorchInstrumentor(Instrumentor):
    """Records plain PyTorch training loops, TensorBoard writes and Lightning fits.

    Options of `instrument`:
        log_models: Upload files written by ``torch.save`` and Lightning's final model
            (default True).
        loss_every: Read the device-side losses back every this many steps (default 100).
    """

    name: ClassVar[str] = "torch"
    libraries: ClassVar[tuple[str, ...]] = ("torch >= 2.2",)

    def _setup(self) -> None:
        super()._setup()
        self.tracker = StepTracker()
        self._step_hook: Any = None
        self._hot = _torch_hot.HotPatches()
        self.tracker.park_loss_modules = self._park_loss_modules
        self.tracker.resume_loss_modules = self._resume_loss_modules

    def _targets(self) -> Iterable[Target]:
        tracker = self.tracker

        def bind(wrapper: Callable[..., Any]) -> Any:
            return functools.partial(wrapper, tracker)

        return [
            Target("torch", "", "save", bind(_wrap_save)),
            Target("torch.optim.optimizer", "Optimizer", "__init__", bind(_wrap_optimizer_init)),
            Target("torch.amp.grad_scaler", "GradScaler", "scale", bind(_wrap_scale)),
            Target(_LOADER, "DataLoader", "__iter__", bind(_wrap_loader_iter)),
            *_tensorboard.targets(),
            *lightning.targets(tracker),
        ]

    def _hooked_modules(self) -> set[str]:
        return super()._hooked_modules() | {_LOSSES}

    def _hot_targets(self, module: Any) -> list[tuple[str, Any, str, _torch_hot.Factory]]:
        """The per-batch targets of *module*: (group, owner, attribute, factory).

        Patched with plain functions (`runlog.instrumentation._torch_hot` says why), by
        `_wrap_module`; `_on_uninstrument` restores them all.
        """
        tracker, name = self.tracker, module.__name__
        if name == "torch":
            return [("backward", module.Tensor, "backward", _torch_hot.backward(tracker))]
        if name == _LOADER:
            make = _torch_hot.loader_next(tracker)
            return [("loader", module._BaseDataLoaderIter, "__next__", make)]
        if name == _LOSSES:
            make = _torch_hot.loss_forward(tracker)
            return [
                (_LOSSES, cls, "forward", make)
                for cls in vars(module).values()
                if isinstance(cls, type) and issubclass(cls, module._Loss)
            ]
        return []

    def _wrap_module(self, module: Any) -> None:
        super()._wrap_module(module)
        for group, owner, attribute, make in self._hot_targets(module):
            self._hot.install(group, owner, attribute, make)
        if module.__name__ == "torch" and self._step_hook is None:
            from torch.optim.optimizer import register_optimizer_step_post_hook

            self._step_hook = register_optimizer_step_post_hook(self.tracker.step_hook)
            self.tracker.watch_modules()

    def _on_instrument(self) -> None:
        self.tracker.log_models = bool(self.options.get("log_models", True))
        self.tracker.loss_every = max(1, int(self.options.get("loss_every", DEFAULT_EVERY)))
        _shutdown.add(_shutdown.DRAIN, self._at_exit)

    def _on_uninstrument(self) -> None:
        _shutdown.remove(_shutdown.DRAIN, self._at_exit)
        self._hot.restore_all()
        self.tracker.finish(follow=False)
        self.tracker.unwatch_modules()
        if self._step_hook is not None:
            self._step_hook.remove()
            self._step_hook = None

    def _park_loss_modules(self) -> None:
        with self._lock:  # (the training thread; uninstrument may run in another)
            self._hot.park(_LOSSES)

    def _resume_loss_modules(self) -> None:
        with self._lock:
            if self._instrumented:
                self._hot.resume(_LOSSES)

    def _at_exit(self) -> None:
        safely("torch: reading back the last losses", self.tracker.finish, follow=False)
