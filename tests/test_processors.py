"""RunlogProcessor: structlog events into a run, plain and through stdlib logging."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _run_logs import stored_lines

import runlog

structlog = pytest.importorskip("structlog")
pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture
def ws(collector: Any) -> runlog.Workspace:
    return runlog.Workspace(collector.endpoint)


@pytest.fixture(autouse=True)
def reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_plain_structlog_events_become_points_and_lines(ws: runlog.Workspace) -> None:
    output = io.StringIO()
    run = runlog.Experiment(ws, "structlog").start_logging()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            runlog.RunlogProcessor(run),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        logger_factory=structlog.PrintLoggerFactory(output),
    )
    log = structlog.get_logger()
    for step in range(3):
        log.info("epoch done", loss=1.0 / (step + 1), acc=0.5, step=step, flag=True, who="me")
    log.warning("explicit", metrics={"lr": 0.1})
    run.complete()

    assert {"loss": [1.0, 0.5, 1.0 / 3], "acc": [0.5, 0.5, 0.5], "lr": 0.1} == run.get_metrics()
    rendered = [json.loads(line) for line in output.getvalue().splitlines()]
    assert {  # the event dict reached the renderer unchanged
        "event": "epoch done",
        "level": "info",
        "loss": 1.0,
        "acc": 0.5,
        "step": 0,
        "flag": True,
        "who": "me",
    } == rendered[0]
    lines = stored_lines(run)
    assert [
        "epoch done loss=1.0 acc=0.5 step=0 flag=True who=me",
        "epoch done loss=0.5 acc=0.5 step=1 flag=True who=me",
        "epoch done loss=0.3333333333333333 acc=0.5 step=2 flag=True who=me",
        "explicit",
    ] == [line["message"] for line in lines]
    assert ["INFO", "INFO", "INFO", "WARNING"] == [line["level"] for line in lines]


def test_exceptions_of_events_are_kept(ws: runlog.Workspace) -> None:
    run = runlog.Experiment(ws, "structlog").start_logging()
    structlog.configure(
        processors=[runlog.RunlogProcessor(run), structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.PrintLoggerFactory(io.StringIO()),
    )
    try:
        raise KeyError("missing")
    except KeyError:
        structlog.get_logger("train").exception("lookup failed")
    run.complete()
    [line] = stored_lines(run)
    assert "ERROR" == line["level"]
    assert "KeyError" in line["exception"]
    assert "missing" in line["exception"]


@pytest.fixture
def stdlib_output(root_logger: logging.Logger) -> io.StringIO:
    """Root logger → a StreamHandler rendering structlog and foreign records as JSON."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
            foreign_pre_chain=[structlog.stdlib.add_log_level],
        )
    )
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)
    return output


@pytest.mark.parametrize("last", ["wrap_for_formatter", "render_to_log_kwargs"])
def test_stdlib_integration_counts_each_event_once(
    ws: runlog.Workspace, root_logger: logging.Logger, stdlib_output: io.StringIO, last: str
) -> None:
    run = runlog.Experiment(ws, "structlog").start_logging()
    root_logger.addHandler(runlog.RunlogHandler(run))
    final = (
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter
        if last == "wrap_for_formatter"
        else structlog.stdlib.render_to_log_kwargs
    )
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            runlog.RunlogProcessor(run),
            final,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger("train.sl")
    for step in range(3):
        log.info("epoch done", loss=0.5 + step, step=step)
    logging.getLogger("train.plain").info("plain record", extra={"loss2": 2.0})
    run.complete()

    assert {"loss": [0.5, 1.5, 2.5], "loss2": 2.0} == run.get_metrics()
    assert 4 == len(_rendered(stdlib_output))
    assert "_runlog" not in stdlib_output.getvalue()
    lines = stored_lines(run)
    assert [
        "epoch done loss=0.5 step=0",
        "epoch done loss=1.5 step=1",
        "epoch done loss=2.5 step=2",
        "plain record",
    ] == [line["message"] for line in lines]
    assert ["train.sl"] * 3 + ["train.plain"] == [line["logger"] for line in lines]


def test_processor_in_a_processor_formatter_skips_what_the_handler_took(
    ws: runlog.Workspace, root_logger: logging.Logger
) -> None:
    """Foreign stdlib records rendered by a ProcessorFormatter whose pre-chain has the
    processor, next to a RunlogHandler: counted once, whichever handler runs first."""
    run = runlog.Experiment(ws, "structlog").start_logging()
    output = io.StringIO()
    rendering = logging.StreamHandler(output)
    rendering.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[structlog.stdlib.add_log_level, runlog.RunlogProcessor(run)],
        )
    )
    root_logger.addHandler(rendering)
    root_logger.addHandler(runlog.RunlogHandler(run))
    root_logger.setLevel(logging.INFO)
    logging.getLogger("train").info("first", extra={"v": 1.0})
    root_logger.removeHandler(rendering)
    root_logger.addHandler(rendering)  # now after the RunlogHandler
    logging.getLogger("train").info("second", extra={"v": 2.0})
    run.complete()
    assert {"v": [1.0, 2.0]} == run.get_metrics()
    assert 2 == len(_rendered(output))
    assert ["first", "second"] == [line["message"] for line in stored_lines(run)]


def test_processor_never_raises_and_returns_the_dict() -> None:
    class NotARun:
        pass

    processor = runlog.RunlogProcessor(NotARun())  # type: ignore[arg-type]  # not a Run, on purpose
    event = {"event": "x", "loss": 1.0}
    assert event is processor(None, "info", event)
    assert {"event": "x", "loss": 1.0} == event


def _rendered(output: io.StringIO) -> list[str]:
    """Rendered lines, less httpx's request log (runlog's own queries)."""
    return [line for line in output.getvalue().splitlines() if "HTTP Request" not in line]
