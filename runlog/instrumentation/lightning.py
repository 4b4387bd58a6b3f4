"""Lightning (``lightning`` and ``pytorch_lightning``): ``Trainer.fit`` logs into a run.

`TorchInstrumentor` wraps ``Trainer.fit`` of whichever of the two packages gets imported.
The wrapper adds a runlog logger to the trainer (once), so that:

- everything ``self.log(...)`` records lands in the run at Lightning's steps (Lightning's
  ``log_every_n_steps`` still decides how often);
- the hyperparameters (``save_hyperparameters``) become run params (nested ones as ``a.b``);
- every checkpoint ``ModelCheckpoint`` saves is logged as the string metric ``checkpoint``
  (its path) and the best one as the tag ``best_checkpoint``;
- after a successful fit the final model's ``state_dict`` is uploaded as
  ``outputs/model.pt`` (unless ``log_models=False``).

Inside ``fit`` the plain-torch wrappers are suppressed, so optimizer steps, losses and
TensorBoard writes Lightning makes are not recorded a second time. The logger does not
move Lightning's checkpoint directory: its ``save_dir`` is the trainer's
``default_root_dir`` and its name and version are empty.
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from runlog.instrumentation._base import Target, safely, suppress, suppressed
from runlog.instrumentation._torch_run import acquire_run, flatten

if TYPE_CHECKING:
    from runlog.run import Run

#: The packages' trainer modules; ``fit`` is wrapped in whichever is imported.
TRAINER_MODULES = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
_Original = Callable[..., Any]
_classes: dict[str, type] = {}


class _Options(Protocol):
    log_models: bool


def targets(options: _Options) -> list[Target]:
    """``Trainer.fit`` of both packages (part of `TorchInstrumentor`'s table)."""
    wrapper = functools.partial(_wrap_fit, options)
    return [Target(module, "Trainer", "fit", wrapper) for module in TRAINER_MODULES]


def _wrap_fit(options: _Options, wrapped: _Original, trainer: Any, args: Any, kwargs: Any) -> Any:
    if suppressed():
        return wrapped(*args, **kwargs)
    model = args[0] if args else kwargs.get("model")
    logger = safely("lightning: adding the runlog logger", attach_logger, trainer, model)
    with suppress():  # Lightning's own steps, losses and TensorBoard writes: not twice
        result = wrapped(*args, **kwargs)
    if logger is not None:
        safely("lightning: recording the fit's end", logger.fit_ended, trainer, options.log_models)
    return result


def attach_logger(trainer: Any, model: Any) -> Any:
    """The trainer's runlog logger, added now if it has none (one per trainer)."""
    base = _logger_base(type(trainer).__module__)
    existing = [logger for logger in trainer.loggers if isinstance(logger, _RunlogLogger)]
    if existing:
        return existing[0]
    run = acquire_run(type(model).__name__ if model is not None else None)
    logger = logger_class(base)(run, trainer.default_root_dir)
    trainer.loggers = [*trainer.loggers, logger]
    return logger


def _logger_base(trainer_module: str) -> type:
    """Lightning's ``Logger`` class of the package *trainer_module* belongs to."""
    package = trainer_module.removesuffix(".trainer.trainer")
    return sys.modules[f"{package}.loggers.logger"].Logger  # type: ignore[no-any-return]


def logger_class(base: type) -> type:
    """The runlog logger as a subclass of *base* (Lightning's ``Logger`` of one package)."""
    name = f"{base.__module__}.{base.__qualname__}"
    if name not in _classes:
        _classes[name] = type("RunlogLogger", (_RunlogLogger, base), {})
    return _classes[name]


class _RunlogLogger:
    """A Lightning logger writing into a runlog run (mixed into Lightning's ``Logger``)."""

    def __init__(self, run: Run, root_dir: str) -> None:
        super().__init__()
        self._run = run
        self._root_dir = root_dir

    @property
    def name(self) -> str:
        return ""  # empty name and version: ModelCheckpoint keeps <root>/checkpoints

    @property
    def version(self) -> str:
        return ""

    @property
    def save_dir(self) -> str:
        return self._root_dir

    @property
    def experiment(self) -> Run:
        """The run (``self.logger.experiment`` in a LightningModule)."""
        return self._run

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        safely("lightning: log_metrics", _log_metrics, self._run, metrics, step)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        safely("lightning: log_hyperparams", _log_hyperparams, self._run, params)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        safely("lightning: after_save_checkpoint", _log_checkpoint, self._run, checkpoint_callback)

    def fit_ended(self, trainer: Any, log_models: bool) -> None:
        """Tag the best checkpoint; upload the final model's ``state_dict``."""
        callback = getattr(trainer, "checkpoint_callback", None)
        best = getattr(callback, "best_model_path", "") if callback is not None else ""
        if best:
            self._run.tag("best_checkpoint", str(best))
        module = trainer.lightning_module
        if log_models and module is not None:
            import torch

            buffer = io.BytesIO()
            torch.save(module.state_dict(), buffer)
            self._run.upload_file("outputs/model.pt", buffer.getvalue())


def _log_metrics(run: Run, metrics: dict[str, Any], step: int | None) -> None:
    for name, value in metrics.items():
        run.log(name, value, step=step)


def _log_hyperparams(run: Run, params: Any) -> None:
    if params:
        run.log_params(flatten(params))


def _log_checkpoint(run: Run, callback: Any) -> None:
    path = getattr(callback, "_last_checkpoint_saved", "") or getattr(
        callback, "best_model_path", ""
    )
    if path:
        run.log("checkpoint", str(path))
