"""Inside the launched interpreter: what its ``sitecustomize`` runs first (`child_bootstrap`).

`runlog._launch` puts `BOOTSTRAP_DIR` in front of the child's ``PYTHONPATH``; the
``sitecustomize`` there calls `child_bootstrap`, which records the interpreter facts, turns
autolog on and flushes on SIGTERM, the way ``opentelemetry-instrument`` does it. Kept apart
from the launcher so that the child imports nothing it does not need.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

#: The folder whose ``sitecustomize`` the child interpreter runs first.
BOOTSTRAP_DIR = str(Path(__file__).resolve().parent / "instrumentation" / "_bootstrap")


def child_bootstrap() -> None:
    """At the launched interpreter's start: interpreter facts, autolog, flush on SIGTERM.

    Each step is on its own: a failing one is reported in one line on stderr (with the
    traceback in strict mode) and the others still happen; the script always runs.
    """
    from runlog.instrumentation._autolog import autolog_from_env

    _remove_bootstrap_from_pythonpath()
    for step in (_flush_on_sigterm, _record_interpreter, autolog_from_env, _read_printed_metrics):
        try:
            step()
        except Exception as exc:
            _report_bootstrap_error(step.__name__, exc)


def _record_interpreter() -> None:
    """Record the interpreter facts in the background: reading installed versions takes
    0.1-0.3 s that the script's first line should not wait for. Joined in the shutdown's
    `DRAIN` phase (before runs finish and the exporter's last flush): nothing is lost."""
    from runlog import _shutdown
    from runlog.instrumentation._base import current_run

    run = current_run()
    if run is None:
        return

    def record() -> None:
        try:
            from runlog._launch_facts import interpreter_properties

            run.add_properties(interpreter_properties())
        except Exception as exc:
            _report_bootstrap_error("_record_interpreter", exc)

    thread = threading.Thread(target=record, name="runlog-interpreter-facts", daemon=True)
    thread.start()
    _shutdown.add(_shutdown.DRAIN, lambda: thread.join(5.0))


def _read_printed_metrics() -> None:
    """Print-style metrics of the script's ``print`` calls, unless switched off."""
    from runlog.instrumentation._autolog import parse_metrics_on

    if parse_metrics_on():
        from runlog.instrumentation import _printed

        _printed.install()


def _report_bootstrap_error(step: str, exc: Exception) -> None:
    from runlog.instrumentation._base import strict

    if strict():
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    print(
        f"runlog: {step} failed at start ({type(exc).__name__}: {exc}); the script runs on",
        file=sys.stderr,
    )


def _remove_bootstrap_from_pythonpath() -> None:
    """Only the launched interpreter runs the bootstrap, not processes it starts (OTel's rule)."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    kept = [p for p in paths if os.path.abspath(p) != BOOTSTRAP_DIR]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)


def _flush_on_sigterm() -> None:
    """Send what is buffered before dying of SIGTERM (the launched run stays the parent's;
    runs the script started itself are canceled, as `runlog._lifecycle` does)."""
    from runlog import _shutdown

    _shutdown.take_sigterm()
