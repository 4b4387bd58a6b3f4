"""All-or-nothing writes of params, metrics and tags, as MLflow's log-batch promises.

The store applies an operation list op by op and keeps what it accepts, so everything it
could refuse is checked here first: keys and values (`collectors.mlflow.validation`), a
param given twice with different values, a param already stored with another value, and a
metric key that runlog's own API logged as a non-scalar (row, table) metric. Only then is
the batch submitted. The check of stored params and the commit run under a per-run lock, so
two MLflow requests cannot both pass the check with different values for one param.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, Final

from collectors.mlflow._context import Context
from collectors.mlflow.errors import invalid
from collectors.mlflow.validation import check_param
from collectors.ops import AppendPoints, Op, SetParam
from runlog import conventions as cv

_LOCKS: Final = tuple(threading.Lock() for _ in range(64))


def checked_params(params: Sequence[dict[str, Any]], batch: bool = True) -> dict[str, str]:
    """The request's params by key, each checked (MLflow's rules and messages)."""
    checked: dict[str, str] = {}
    for index, param in enumerate(params):
        key, value = check_param(param.get("key"), param.get("value", ""), index if batch else None)
        checked.setdefault(key, value)
    return checked


def check_unique_keys(params: Sequence[dict[str, Any]]) -> None:
    """As mlflow server, a batch may name each param once (even with the same value)."""
    keys = [param.get("key") for param in params]
    duplicates = [key for index, key in enumerate(keys) if key in keys[:index]]
    if duplicates:
        raise invalid(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure "
            "the request contains only one param value per param key."
        )


def param_ops(run_id: str, params: dict[str, str]) -> list[Op]:
    return [SetParam(run_id, key, value) for key, value in params.items()]


def submit_batch(
    ctx: Context, run_id: str, params: dict[str, str], ops: Sequence[Op], single: bool = False
) -> None:
    """Submit *ops* (which set *params*) if nothing in them conflicts with the stored run.

    *single* marks a log-parameter request (MLflow words its conflict message differently).

    Raises:
        MlflowError: ``INVALID_PARAMETER_VALUE`` for a param stored with another value or a
            metric key of another kind; nothing of the batch is stored then.
    """
    metric_names = sorted({op.name for op in ops if isinstance(op, AppendPoints)})
    if not params and not metric_names:
        ctx.submit(ops)
        return
    # Only params need the lock: metric kinds are set by runlog's own API, not by MLflow's.
    lock = _LOCKS[zlib.crc32(run_id.encode()) % len(_LOCKS)] if params else nullcontext()
    with lock:
        stored, kinds = ctx.store.batch_state(run_id, sorted(params), metric_names)
        _check_params(run_id, params, stored, single)
        _check_kinds(run_id, kinds)
        ctx.submit(ops)


def _check_params(
    run_id: str, params: dict[str, str], stored: dict[str, str], single: bool
) -> None:
    conflicts = [
        {"key": key, "old_value": stored[key], "new_value": value}
        for key, value in params.items()
        if key in stored and stored[key] != value
    ]
    if conflicts and single:  # MLflow's messages, so clients and users recognise them
        key, old, new = conflicts[0].values()
        raise invalid(
            f"Changing param values is not allowed. Param with key='{key}' was already logged "
            f"with value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
        )
    if conflicts:
        raise invalid(
            f"Changing param values is not allowed. Params were already logged='{conflicts}' "
            f"for run ID='{run_id}'."
        )


def _check_kinds(run_id: str, kinds: dict[str, str]) -> None:
    for name, kind in kinds.items():
        if kind != cv.KIND_SCALAR:
            raise invalid(
                f"Metric '{name}' of run {run_id} was logged by runlog as a {kind} metric; "
                "MLflow metrics are numbers. Log them under another key."
            )
