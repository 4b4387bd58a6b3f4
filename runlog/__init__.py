"""runlog: experiment tracking that rides on the logging you already have.

>>> import runlog
>>> run = runlog.Experiment("demo").start_logging()
>>> run.log("loss", 0.31)
>>> run.complete()
"""

from __future__ import annotations

import logging as _logging
import sys as _sys
from typing import TYPE_CHECKING, Any

from runlog import _logcapture
from runlog._objects import active_run, start_run
from runlog.exceptions import (
    AuthenticationError,
    CollectorUnavailableError,
    ConfigError,
    InvalidArgumentError,
    NotFoundError,
    RunFailedError,
    RunlogError,
)
from runlog.experiment import Experiment
from runlog.handler import RunlogHandler, install_logging, uninstall_logging
from runlog.model import Model
from runlog.otel import configure_otel
from runlog.processors import RunlogProcessor
from runlog.run import Run
from runlog.submit import CondaDependencies, Environment, RunConfiguration, ScriptRunConfig
from runlog.workspace import Workspace

if TYPE_CHECKING:
    from runlog.instrumentation._autolog import autolog


def __getattr__(name: str) -> Any:
    if name == "autolog":
        # wrapt and the instrumentors stay out of a plain ``import runlog`` (PEP 562)
        from runlog.instrumentation._autolog import autolog

        globals()["autolog"] = autolog  # found directly from now on
        return autolog
    # importlib.metadata costs ~60 ms at import; read the version only when asked.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("runlog-ml")  # runlog.extras.DISTRIBUTION
        except PackageNotFoundError:  # a source tree that is not installed
            return "0.0.0+unknown"
    raise AttributeError(f"module 'runlog' has no attribute {name!r}")


class _Stderr(_logging.StreamHandler):  # type: ignore[type-arg]  # stream is a property here
    """Writes to ``sys.stderr`` as it is when a record comes, as `logging.lastResort` does:
    a stream swapped in at import (pytest's capture) may be closed by the time runlog
    reports at exit, which printed a "Logging error" traceback instead of the line."""

    @property
    def stream(self) -> Any:
        return _sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """`logging.StreamHandler.__init__` sets it; the current stderr is used instead."""


def _internal_logger() -> _logging.Logger:
    """runlog's own trouble goes to stderr, never through the user's handlers (no loops)."""
    logger = _logging.getLogger("runlog.internal")
    if not logger.handlers:
        handler = _Stderr()
        handler.setFormatter(_logging.Formatter("runlog: %(levelname)s: %(message)s"))
        # one line per warning on stderr, whatever the logger's level: the details (DEBUG,
        # with tracebacks) go only to handlers a user adds to runlog.internal
        handler.setLevel(_logging.WARNING)
        logger.addHandler(handler)
        logger.setLevel(_logging.WARNING)
        logger.propagate = False
    return logger


_internal_logger()
_logcapture.install()


__all__ = [
    "AuthenticationError",
    "CollectorUnavailableError",
    "CondaDependencies",
    "ConfigError",
    "Environment",
    "Experiment",
    "InvalidArgumentError",
    "Model",
    "NotFoundError",
    "Run",
    "RunConfiguration",
    "RunFailedError",
    "RunlogError",
    "RunlogHandler",
    "RunlogProcessor",
    "ScriptRunConfig",
    "Workspace",
    "__version__",
    "active_run",
    "autolog",
    "configure_otel",
    "install_logging",
    "start_run",
    "uninstall_logging",
]
