"""Shared fixtures: real collector processes on free loopback ports.

``collector`` (session-wide) is one collector with a temporary data directory; use unique
run ids per test. ``start_collector`` starts extra ones with other options (a token, small
limits) and stops them at the end of the test. The helpers live in ``collector_process``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest
from collector_process import Collector, run_collector

# runlog's own errors inside auto-instrumentation raise in tests (and in the scripts the
# tests launch, which inherit this), so CI sees them instead of one logged warning.
os.environ["RUNLOG_INSTRUMENTATION_STRICT"] = "1"


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """One real collector for the whole session (use unique run ids)."""
    with run_collector(tmp_path_factory.mktemp("collector") / "data") as running:
        yield running


@pytest.fixture
def start_collector(tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    """Start extra collectors with options: ``start_collector(args=[...], token="t")``."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(args: Sequence[str] = (), token: str | None = None) -> Collector:
            data_dir = tmp_path / f"data{next(numbers)}"
            return stack.enter_context(run_collector(data_dir, args, token))

        yield start


@pytest.fixture
def client_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A private spool and no inherited run; the default workspace is resolved afresh."""
    import runlog._objects
    from runlog import conventions as c

    monkeypatch.setenv(c.ENV_SPOOL_DIR, str(tmp_path / "spool"))
    for name in (c.ENV_RUN_ID, c.ENV_ENDPOINT, c.ENV_EXPERIMENT, "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runlog._objects, "_default", None)
    yield


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger; its handlers and level are restored after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    import runlog

    runlog.uninstall_logging()
    root.handlers[:] = handlers
    root.setLevel(level)
