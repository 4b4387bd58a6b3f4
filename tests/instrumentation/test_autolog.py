"""`runlog.autolog`, ``RUNLOG_AUTOLOG`` and the OpenTelemetry instrumentor entry points."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

import runlog
from runlog import _logcapture
from runlog import conventions as c
from runlog.instrumentation import _autolog
from runlog.instrumentation._base import ENV_STRICT

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def autolog_off(root_logger: logging.Logger) -> Iterator[None]:
    """Every test starts and ends with no instrumentation and no runlog logging handler."""
    yield
    runlog.autolog(disable=True)


def python(code: str, env: dict[str, str] | None = None) -> str:
    """Run *code* in a fresh interpreter; return its stdout (fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    return done.stdout.strip()


def test_autolog_imports_neither_sklearn_nor_torch() -> None:
    out = python(
        """
        import sys, runlog
        runlog.autolog()
        print(sorted(m for m in ("sklearn", "torch", "lightning") if m in sys.modules))
        """
    )
    assert "[]" == out


def test_autolog_logging_adds_no_handler_and_changes_no_level(
    root_logger: logging.Logger,
) -> None:
    level, handlers = root_logger.level, list(root_logger.handlers)
    runlog.autolog(sklearn=False, torch=False)
    runlog.autolog(sklearn=False, torch=False)
    assert handlers == root_logger.handlers
    assert level == root_logger.level
    assert 1 == sum(isinstance(tap, runlog.RunlogHandler) for tap in _logcapture.taps())
    runlog.autolog(sklearn=False, torch=False, disable=True)
    assert () == _logcapture.taps()


def test_disable_keeps_a_handler_the_user_installed(root_logger: logging.Logger) -> None:
    handler = runlog.install_logging()
    runlog.autolog(sklearn=False, torch=False, disable=True)
    assert handler in root_logger.handlers


def test_the_scripts_own_logging_output_is_unchanged_under_autolog(
    collector: Any, tmp_path: Path
) -> None:
    """basicConfig still configures, lastResort still prints, the root stays at WARNING."""
    script = """
        import logging, sys
        {autolog}
        logging.getLogger("lib").warning("unconfigured warning")
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
        logging.getLogger("train").info("epoch 1 loss=0.5")
        print(logging.getLogger().handlers[0].__class__.__name__, file=sys.stderr)
    """
    plain = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script.format(autolog=""))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    logged = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(script.format(autolog="import runlog; runlog.autolog()")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={
            **os.environ,
            c.ENV_ENDPOINT: collector.endpoint,
            c.ENV_SPOOL_DIR: str(tmp_path),
            c.ENV_EXPERIMENT: "autolog-output",
        },
    )
    assert "unconfigured warning\nINFO train epoch 1 loss=0.5\nStreamHandler\n" == plain.stderr
    assert plain.stderr == logged.stderr
    assert plain.stdout == logged.stdout


def test_log_records_land_in_the_active_run(
    collector: Any, client_env: None, monkeypatch: pytest.MonkeyPatch, root_logger: logging.Logger
) -> None:
    monkeypatch.setenv(c.ENV_ENDPOINT, collector.endpoint)
    runlog.autolog(sklearn=False, torch=False)
    train = logging.getLogger("train")
    train.propagate = False  # a logger of its own (as Lightning's): records still reach the run
    try:
        with runlog.start_run(f"autolog-{uuid.uuid4().hex[:8]}") as run:
            train.info("not recorded: INFO does not pass the default WARNING level")
            train.warning("epoch done", extra={"loss": 0.25, "step": 1})
    finally:
        train.propagate = True
    assert {"loss": 0.25} == run.get_metrics()
    assert ["epoch done"] == [line["message"] for line in run.get_logs()]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", set()),
        ("0", set()),
        ("none", set()),
        ("1", {"sklearn", "torch", "logging"}),
        ("all", {"sklearn", "torch", "logging"}),
        ("sklearn", {"sklearn"}),
        (" Torch , logging ", {"torch", "logging"}),
        ("sklearn,keras", {"sklearn"}),
    ],
)
def test_parse_autolog(value: str, expected: set[str]) -> None:
    assert expected == _autolog.parse_autolog(value)


def test_unknown_autolog_name_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("runlog.internal")
    logger.addHandler(caplog.handler)
    try:
        _autolog.parse_autolog("sklearn,keras")
    finally:
        logger.removeHandler(caplog.handler)
    assert [
        "runlog: RUNLOG_AUTOLOG names unknown libraries keras; expected some of "
        "sklearn,torch,logging"
    ] == caplog.messages


def test_autolog_from_env_switches_on_what_it_names(root_logger: logging.Logger) -> None:
    _autolog.autolog_from_env("logging")
    assert [] == _autolog.instrumented()
    assert any(isinstance(h, runlog.RunlogHandler) for h in _logcapture.taps())


@pytest.fixture
def broken_instrumentor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real instrumentor module that fails at import, standing in for sklearn's."""
    name = f"broken_instrumentor_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(_autolog.INSTRUMENTORS, "sklearn", (name, "Nothing"))
    return name


def test_runlog_error_raises_in_strict_mode(broken_instrumentor: str) -> None:
    with pytest.raises(RuntimeError, match="broken at import"):
        runlog.autolog(torch=False, logging=False)


def test_runlog_error_is_logged_not_raised_otherwise(
    broken_instrumentor: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    root_logger: logging.Logger,
) -> None:
    monkeypatch.setenv(ENV_STRICT, "0")
    logger = logging.getLogger("runlog.internal")
    logger.addHandler(caplog.handler)
    try:
        runlog.autolog(torch=False)  # must not raise; logging is still switched on
    finally:
        logger.removeHandler(caplog.handler)
    assert ["runlog: autolog(sklearn) failed; your code goes on without it"] == caplog.messages
    assert any(isinstance(h, runlog.RunlogHandler) for h in _logcapture.taps())


def test_missing_instrumentor_module_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        _autolog.INSTRUMENTORS, "sklearn", ("runlog.instrumentation.no_such_module", "X")
    )
    assert _autolog.instrumentor("sklearn") is None
    runlog.autolog(torch=False, logging=False)  # nothing to do, nothing raised


@pytest.mark.parametrize(
    ("library", "options"),
    [
        ("sklearn", {"log_models": True, "max_tuning_runs": 5}),
        ("torch", {"log_models": True}),
    ],
)
def test_autolog_is_idempotent_and_reconfigures(
    library: str, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip(_autolog.INSTRUMENTORS[library][0])
    chosen = {"sklearn": library == "sklearn", "torch": library == "torch", "logging": False}
    instrumentor = _autolog.instrumentor(library)
    assert instrumentor is not None
    logger = logging.getLogger("runlog.internal")
    logger.addHandler(caplog.handler)
    try:
        runlog.autolog(**chosen)
        runlog.autolog(**chosen)  # the same call again: no "already instrumented" warning
        assert [] == caplog.messages
        assert options == instrumentor.options
        runlog.autolog(**chosen, log_models=False)
        assert {**options, "log_models": False} == instrumentor.options
        runlog.autolog(**chosen, disable=True)
        assert not instrumentor.is_instrumented
    finally:
        logger.removeHandler(caplog.handler)


def test_entry_points_are_registered() -> None:
    found = {e.name: e.value for e in entry_points(group="opentelemetry_instrumentor")}
    assert "runlog.instrumentation.sklearn:SklearnInstrumentor" == found.get("sklearn")
    assert "runlog.instrumentation.torch:TorchInstrumentor" == found.get("torch")


def test_opentelemetry_instrument_discovers_and_instruments_them(tmp_path: Path) -> None:
    pytest.importorskip("runlog.instrumentation.sklearn")
    pytest.importorskip("runlog.instrumentation.torch")
    script = tmp_path / "train.py"
    script.write_text(
        "from runlog.instrumentation import _autolog\nprint(_autolog.instrumented())\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, script],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        },
        timeout=60,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    assert "['sklearn', 'torch']" == done.stdout.strip()
