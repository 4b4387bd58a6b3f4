"""Errors that runlog raises from explicit calls (queries, configuration, downloads).

Logging calls (`run.log`, `log_row`, …) never raise: they log a warning instead. ::

    RunlogError
    ├── ConfigError (ValueError)            bad configuration file or setting
    ├── InvalidArgumentError (ValueError)   the collector or the client refused an argument
    ├── NotFoundError (LookupError)         unknown experiment, run, metric or file
    ├── AuthenticationError (PermissionError) token missing or wrong
    ├── CollectorUnavailableError (ConnectionError) the collector cannot be reached
    └── RunFailedError                      a waited-for submitted run ended Failed

A warning, once per process and argument: `IgnoredArgumentWarning` (UserWarning), an Azure
ML v1 argument runlog accepts but does not act on (``start_logging(outputs=...)``).
"""

from __future__ import annotations


class RunlogError(Exception):
    """Root of every error runlog raises."""


class ConfigError(RunlogError, ValueError):
    """A configuration file or setting is malformed."""


class InvalidArgumentError(RunlogError, ValueError):
    """An argument was refused (by the client's checks or by the collector's 400)."""


class NotFoundError(RunlogError, LookupError):
    """The experiment, run, metric or file does not exist."""


class AuthenticationError(RunlogError, PermissionError):
    """The collector wants a bearer token and none, or a wrong one, was given."""


class CollectorUnavailableError(RunlogError, ConnectionError):
    """The collector could not be reached or could not serve the request."""


class RunFailedError(RunlogError):
    """`Run.wait_for_completion` saw the run end Failed; ``details`` has its record."""

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


__all__ = [
    "AuthenticationError",
    "CollectorUnavailableError",
    "ConfigError",
    "InvalidArgumentError",
    "NotFoundError",
    "RunFailedError",
    "RunlogError",
]


class IgnoredArgumentWarning(UserWarning):
    """An Azure ML v1 argument that runlog accepts but does not act on (warned once)."""
