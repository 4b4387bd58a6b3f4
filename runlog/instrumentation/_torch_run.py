"""Which run PyTorch, TensorBoard and Lightning instrumentation log into, and file names.

The policy: log into the active run (`current_run`: a run the code started, or the run of
``runlog run``); when there is none, start one, named after the model (or the script),
at the first optimizer step / TensorBoard write / ``Trainer.fit``. A run started here is
owned by the process, so runlog completes it at exit (failed on an uncaught exception).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runlog._objects import Run, script_name, start_run
from runlog.instrumentation._base import current_run

#: Run files that hold what the training code saved (the launcher uploads ``./outputs``).
OUTPUTS = "outputs/"


def acquire_run(name: str | None = None) -> Run:
    """The active run, or a new one named *name* (default: the script's file name)."""
    run = current_run()
    if run is not None:
        return run
    return start_run(name=name or script_name())


def output_name(path: str | os.PathLike[str]) -> str:
    """The run file name for a file the code saved at *path*.

    A path inside the working directory keeps its relative path (``outputs/model.pt``
    stays as it is, ``ckpt/last.pt`` becomes ``outputs/ckpt/last.pt``); any other path
    keeps its base name under ``outputs/``.
    """
    resolved = Path(path).resolve()
    try:
        relative = resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        relative = resolved.name
    return relative if relative.startswith(OUTPUTS) else OUTPUTS + relative


def flatten(params: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings (hyperparameters) as one level of ``a.b`` keys."""
    items = vars(params) if hasattr(params, "__dict__") and not hasattr(params, "items") else params
    flat: dict[str, Any] = {}
    for key, value in dict(items).items():
        name = f"{prefix}{key}"
        if hasattr(value, "items"):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return flat
