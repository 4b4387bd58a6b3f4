"""Lightning (``lightning`` and ``pytorch_lightning``): ``Trainer.fit`` logs into a run.

`TorchInstrumentor` wraps ``Trainer.fit`` of whichever of the two packages gets imported.
The wrapper adds a runlog logger to the trainer (once), so that:

- everything ``self.log(...)`` records lands in the run at Lightning's steps (Lightning's
  ``log_every_n_steps`` still decides how often);
- the hyperparameters (``save_hyperparameters``) become run params (nested ones as ``a.b``);
- every checkpoint ``ModelCheckpoint`` saves is logged as the string metric ``checkpoint``
  (its path) and the best one as the tag ``best_checkpoint``;
- after a successful fit: Lightning's model summary table as ``outputs/model_summary.txt``,
  the checkpoint files ModelCheckpoint kept (``save_top_k``, ``save_last``) under
  ``outputs/`` and the final model's ``state_dict`` as ``outputs/model.pt`` (the files:
  unless ``log_models=False``);
- ``Trainer.test`` / ``validate`` metrics reach the run once (through this logger; the
  TensorBoard writes Lightning makes meanwhile are not mirrored).

Inside ``fit`` the plain-torch wrappers are suppressed, so optimizer steps, losses and
TensorBoard writes Lightning makes are not recorded a second time. In distributed training
only rank 0 records. The logger does not
move Lightning's checkpoint directory: its ``save_dir`` is the trainer's
``default_root_dir`` and its name and version are empty.
"""

from __future__ import annotations

import functools
import importlib
import io
import sys
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from runlog._objects import Run
from runlog.instrumentation._base import Target, current_run, safely, suppress, suppressed
from runlog.instrumentation._torch_run import acquire_run, flatten, output_name
from runlog.instrumentation._torch_steps import other_rank

#: The packages' trainer modules; ``fit`` is wrapped in whichever is imported.
TRAINER_MODULES = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
LOGGER_UTILITIES = ("lightning.pytorch.loggers.utilities", "pytorch_lightning.loggers.utilities")
_Original = Callable[..., Any]
_classes: dict[str, type] = {}


class _Options(Protocol):
    log_models: bool


def targets(options: _Options) -> list[Target]:
    """``Trainer.fit`` and the progress bar's logger version of both packages (part of
    `TorchInstrumentor`'s table)."""
    wrapper = functools.partial(_wrap_fit, options)
    return [
        *(Target(module, "Trainer", "fit", wrapper) for module in TRAINER_MODULES),
        *(
            Target(module, "Trainer", method, _wrap_evaluate)
            for module in TRAINER_MODULES
            for method in ("validate", "test")
        ),
        *(Target(module, "", "_version", _wrap_version) for module in LOGGER_UTILITIES),
    ]


def _wrap_version(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    """The loggers' version the progress bar shows (``v_num``), as if runlog's were not
    there: adding a logger must not change what the script prints."""
    loggers = args[0] if args else kwargs.get("loggers", ())
    kept = [logger for logger in loggers if not isinstance(logger, _RunlogLogger)]
    if len(kept) == len(loggers):
        return wrapped(*args, **kwargs)
    if not kept:
        return ""  # the bar shows no version, as with no logger at all
    return wrapped(kept, *args[1:], **kwargs)


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


def _wrap_evaluate(wrapped: _Original, trainer: Any, args: Any, kwargs: Any) -> Any:
    """``Trainer.test`` / ``validate``: their metrics reach the run once, through runlog's
    logger, not a second time through the TensorBoard writer of Lightning's own logger."""
    if suppressed():
        return wrapped(*args, **kwargs)
    model = args[0] if args else kwargs.get("model")
    safely("lightning: adding the runlog logger", attach_logger, trainer, model)
    with suppress():
        return wrapped(*args, **kwargs)


def attach_logger(trainer: Any, model: Any) -> Any:
    """The trainer's runlog logger, added now if it has none (one per trainer)."""
    base = _logger_base(trainer)
    existing = [logger for logger in trainer.loggers if isinstance(logger, _RunlogLogger)]
    if existing:
        return existing[0]
    if other_rank():
        return None  # distributed training: rank 0 records
    run = acquire_run(type(model).__name__ if model is not None else None)
    logger = logger_class(base)(run, trainer.default_root_dir)
    trainer.loggers = [*trainer.loggers, logger]
    return logger


def _logger_base(trainer: Any) -> type:
    """Lightning's ``Logger`` class of the package *trainer* comes from (subclasses too)."""
    for cls in type(trainer).__mro__:
        if cls.__module__ in TRAINER_MODULES:
            package = cls.__module__.removesuffix(".trainer.trainer")
            logger: type = sys.modules[f"{package}.loggers.logger"].Logger
            return logger
    raise TypeError(f"{type(trainer).__qualname__} is not a Lightning Trainer")


def logger_class(base: type) -> type:
    """The runlog logger as a subclass of *base* (Lightning's ``Logger`` of one package)."""
    name = f"{base.__module__}.{base.__qualname__}"
    if name not in _classes:
        _classes[name] = type("RunlogLogger", (_RunlogLogger, base), {"_base_path": name})
    return _classes[name]


def _unpickle_logger(base_path: str, root_dir: str) -> Any:
    """Rebuild a pickled runlog logger (without its run) in another process."""
    module, _, name = base_path.rpartition(".")
    base = getattr(importlib.import_module(module), name)
    return logger_class(base)(None, root_dir)


class _RunlogLogger:
    """A Lightning logger writing into a runlog run (mixed into Lightning's ``Logger``)."""

    _base_path: ClassVar[str] = ""  # the Lightning ``Logger`` this class is mixed into

    def __init__(self, run: Run | None, root_dir: str) -> None:
        super().__init__()
        self._run = run
        self._root_dir = root_dir

    def __reduce__(self) -> tuple[Any, ...]:
        # A spawned process (ddp_spawn) gets the logger pickled, never the run: there it
        # logs into the run it was launched for (``runlog run``), if any.
        return (_unpickle_logger, (self._base_path, self._root_dir))

    def _target(self) -> Run | None:
        """The run to write to: none on ranks other than 0."""
        if other_rank():
            return None
        if self._run is None:
            self._run = current_run()
        return self._run

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
    def experiment(self) -> Run | None:
        """The run (``self.logger.experiment`` in a LightningModule)."""
        return self._target()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        safely("lightning: log_metrics", _log_metrics, self._target(), metrics, step)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        safely("lightning: log_hyperparams", _log_hyperparams, self._target(), params)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        run = self._target()
        safely("lightning: after_save_checkpoint", _log_checkpoint, run, checkpoint_callback)

    def fit_ended(self, trainer: Any, log_models: bool) -> None:
        """Tag the best checkpoint; upload the model summary, the checkpoints Lightning
        kept and the final model's ``state_dict``."""
        run = self._target()
        if run is None:
            return
        callback = getattr(trainer, "checkpoint_callback", None)
        best = getattr(callback, "best_model_path", "") if callback is not None else ""
        if best:
            run.tag("best_checkpoint", str(best))
        module = trainer.lightning_module
        if module is not None:
            run.upload_file("outputs/model_summary.txt", _summary_text(trainer, module).encode())
        if log_models:
            for path in kept_checkpoints(trainer):
                run.upload_file(output_name(path), path)
        if log_models and module is not None:
            import torch

            buffer = io.BytesIO()
            torch.save(module.state_dict(), buffer)
            run.upload_file("outputs/model.pt", buffer.getvalue())


def kept_checkpoints(trainer: Any) -> list[str]:
    """The checkpoint files the trainer's ModelCheckpoints still keep (``save_top_k`` and
    ``save_last`` decide which; those they removed are gone from disk and not uploaded)."""
    import os

    paths: dict[str, None] = {}
    for callback in getattr(trainer, "checkpoint_callbacks", None) or []:
        kept = getattr(callback, "best_k_models", {})  # empty without a monitored metric
        for path in [callback.best_model_path, *kept, callback.last_model_path]:
            if path and os.path.isfile(path):
                paths[str(path)] = None
    return list(paths)


def _summary_text(trainer: Any, module: Any) -> str:
    """Lightning's own model summary table (what ``enable_model_summary`` prints)."""
    package = next(
        cls.__module__.removesuffix(".trainer.trainer")
        for cls in type(trainer).__mro__
        if cls.__module__ in TRAINER_MODULES
    )
    summary = importlib.import_module(f"{package}.utilities.model_summary")
    return str(summary.ModelSummary(module, max_depth=-1)) + "\n"


def _log_metrics(run: Run | None, metrics: dict[str, Any], step: int | None) -> None:
    if run is None:
        return
    for name, value in metrics.items():
        run.log(name, value, step=step)


def _log_hyperparams(run: Run | None, params: Any) -> None:
    if params and run is not None:
        run.record_params(flatten(params))


def _log_checkpoint(run: Run | None, callback: Any) -> None:
    path = getattr(callback, "_last_checkpoint_saved", "") or getattr(
        callback, "best_model_path", ""
    )
    if path and run is not None:
        run.log("checkpoint", str(path))
