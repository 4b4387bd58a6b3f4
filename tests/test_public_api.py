"""The public surface changes only on purpose."""

from __future__ import annotations

import subprocess
import sys

import runlog


def test_all_is_locked() -> None:
    assert [
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
    ] == runlog.__all__
    assert sorted(runlog.__all__) == runlog.__all__


def test_errors_inherit_the_nearest_builtin() -> None:
    assert issubclass(runlog.ConfigError, ValueError)
    assert issubclass(runlog.NotFoundError, LookupError)
    assert issubclass(runlog.CollectorUnavailableError, ConnectionError)


def test_import_stays_light() -> None:
    """Importing runlog must not pull in protobuf, httpx, numpy, the CLI's click and rich,
    or optional stacks."""
    heavy = (
        "('httpx', 'numpy', 'google.protobuf', 'structlog', 'opentelemetry.sdk', 'psutil',"
        " 'wrapt', 'runlog.instrumentation', 'sklearn', 'torch', 'click', 'rich')"
    )
    code = f"import runlog, sys; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[]" == out.stdout.strip()


def test_runlogs_own_warnings_reach_the_stderr_of_the_moment() -> None:
    """A stderr swapped in when runlog was imported (pytest's capture) and closed since: a
    warning at exit is written to the real stderr, not a "Logging error" traceback."""
    code = (
        "import io, logging, sys\n"
        "real, sys.stderr = sys.stderr, io.StringIO()\n"
        "import runlog\n"
        "sys.stderr.close()\n"
        "sys.stderr = real\n"
        "logging.getLogger('runlog.internal').warning('spooled 3 points')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "runlog: WARNING: spooled 3 points\n" == out.stderr
