"""``torch.utils.tensorboard.SummaryWriter`` calls mirrored into the run.

Many scripts already log through TensorBoard; with instrumentation on, each call also
lands in the run (the active one, else one started for the script):

- ``add_scalar(tag, value, global_step)`` → ``run.log(tag, value, step=global_step)``;
- ``add_scalars(main, {tag: value}, global_step)`` → ``run.log("main/tag", …)``;
- ``add_image(tag, img, …)`` → ``run.log_image(tag, …)`` (the PNG TensorBoard encodes);
- ``add_histogram(tag, values, global_step)`` → ``run.log_table(tag, …)``: one row per bin
  (``step``, ``left``, ``right``, ``count``), a table per call;
- ``add_text(tag, text, global_step)`` → a log line of the run (logger ``tensorboard.<tag>``);
- ``add_hparams(hparams, metrics)`` → one child run per call (a sweep's trials), named after
  its hparams, with them as params and one value per metric.

The original runs first and exactly once; ``add_hparams`` runs suppressed, because it
writes its metrics through ``add_scalar`` of a second writer.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from runlog.instrumentation._base import Target, safely, suppress, suppressed
from runlog.instrumentation._torch_run import acquire_run, flatten

_WRITER = "torch.utils.tensorboard.writer"
_Original = Callable[..., Any]


def targets() -> list[Target]:
    """The SummaryWriter methods to wrap (part of `TorchInstrumentor`'s table)."""
    return [
        Target(_WRITER, "SummaryWriter", "add_scalar", _wrap_add_scalar),
        Target(_WRITER, "SummaryWriter", "add_scalars", _wrap_add_scalars),
        Target(_WRITER, "SummaryWriter", "add_image", _wrap_add_image),
        Target(_WRITER, "SummaryWriter", "add_hparams", _wrap_add_hparams),
        Target(_WRITER, "SummaryWriter", "add_histogram", _wrap_add_histogram),
        Target(_WRITER, "SummaryWriter", "add_text", _wrap_add_text),
    ]


#: Bins of a histogram whose ``bins`` TensorBoard names ("tensorflow": its own scheme).
DEFAULT_BINS = 30


def _wrap_add_histogram(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():
        tag, values = _arg(args, kwargs, 0, "tag"), _arg(args, kwargs, 1, "values")
        step, bins = _arg(args, kwargs, 2, "global_step"), _arg(args, kwargs, 3, "bins")
        safely("tensorboard: add_histogram", _log_histogram, tag, values, step, bins)
    return result


def _log_histogram(tag: str, values: Any, step: Any, bins: Any) -> None:
    import numpy as np

    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()  # TensorBoard's own call read it already
    array = np.asarray(values, dtype=float).ravel()
    if bins is None or bins == "tensorflow":
        bins = DEFAULT_BINS
    counts, edges = np.histogram(array, bins=bins)
    rows = len(counts)
    acquire_run().log_table(
        tag,
        {
            "step": [0 if step is None else int(step)] * rows,
            "left": edges[:-1].tolist(),
            "right": edges[1:].tolist(),
            "count": counts.tolist(),
        },
    )


def _wrap_add_text(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():
        tag, text = _arg(args, kwargs, 0, "tag"), _arg(args, kwargs, 1, "text_string")
        safely("tensorboard: add_text", _log_text, tag, text)
    return result


def _log_text(tag: str, text: Any) -> None:
    acquire_run().log_line(str(text), f"tensorboard.{tag}")


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    """Argument *name* of a call, given by position *index* or by keyword."""
    return args[index] if len(args) > index else kwargs.get(name)


def _wrap_add_scalar(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():
        tag, value = _arg(args, kwargs, 0, "tag"), _arg(args, kwargs, 1, "scalar_value")
        step = _arg(args, kwargs, 2, "global_step")
        safely("tensorboard: add_scalar", _log_scalars, {tag: value}, step)
    return result


def _wrap_add_scalars(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():
        main = _arg(args, kwargs, 0, "main_tag")
        values = _arg(args, kwargs, 1, "tag_scalar_dict") or {}
        step = _arg(args, kwargs, 2, "global_step")
        scalars = {f"{main}/{tag}": value for tag, value in values.items()}
        safely("tensorboard: add_scalars", _log_scalars, scalars, step)
    return result


def _log_scalars(values: dict[str, Any], step: Any) -> None:
    run = acquire_run()
    for tag, value in values.items():
        run.log(tag, value, step=None if step is None else int(step))


def _wrap_add_image(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if not suppressed():
        tag, image = _arg(args, kwargs, 0, "tag"), _arg(args, kwargs, 1, "img_tensor")
        formats = _arg(args, kwargs, 4, "dataformats") or "CHW"
        safely("tensorboard: add_image", _log_image, tag, image, formats)
    return result


def _log_image(tag: str, image: Any, dataformats: str) -> None:
    from torch.utils.tensorboard.summary import image as encode

    summary = encode(tag, image, dataformats=dataformats)  # type: ignore[no-untyped-call]  # torch's is unannotated
    png = summary.value[0].image.encoded_image_string
    handle, path = tempfile.mkstemp(suffix=".png", prefix="runlog-tb-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(png)
        acquire_run().log_image(tag, path=path)  # copied into the spool at once
    finally:
        os.unlink(path)


def _wrap_add_hparams(wrapped: _Original, instance: Any, args: Any, kwargs: Any) -> Any:
    with suppress():  # it logs its metrics through another writer's add_scalar
        result = wrapped(*args, **kwargs)
    if not suppressed():
        hparams = _arg(args, kwargs, 0, "hparam_dict") or {}
        metrics = _arg(args, kwargs, 1, "metric_dict") or {}
        safely("tensorboard: add_hparams", _log_hparams, hparams, metrics)
    return result


def _log_hparams(hparams: dict[str, Any], metrics: dict[str, Any]) -> None:
    from runlog import conventions as c

    params = flatten(hparams)
    name = " ".join(f"{key}={value}" for key, value in params.items())[:200] or "hparams"
    trial = acquire_run().child_run(name=name)
    trial.record_params(params)
    for metric, value in metrics.items():
        trial.log(metric, value)
    trial.finish(c.STATUS_COMPLETED, wait=False)
