"""RunlogHandler: stdlib logging into a run, end to end through a real collector."""

from __future__ import annotations

import decimal
import logging
import logging.config
import threading
from typing import Any

import numpy as np
import pytest
from _run_logs import stored_lines, wire_lines

import runlog
from runlog._logfields import (
    level_number,
    metric_value,
    parse_key_values,
    severity_number,
    split_points,
)
from runlog._packer import OP_LOG, RunHandle
from runlog._records import RunKey

pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture
def ws(collector: Any) -> runlog.Workspace:
    return runlog.Workspace(collector.endpoint)


@pytest.fixture
def log(root_logger: logging.Logger) -> logging.Logger:
    """A fresh logger that propagates to the (restored) root logger."""
    logger = logging.getLogger(f"train.{threading.get_ident()}")
    logger.setLevel(logging.DEBUG)
    return logger


# --- pure functions ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("levelno", "expected"),
    [
        (logging.NOTSET, 0),
        (5, 1),
        (logging.DEBUG, 5),
        (11, 6),
        (19, 8),
        (logging.INFO, 9),
        (21, 10),
        (logging.WARNING, 13),
        (logging.ERROR, 17),
        (logging.CRITICAL, 21),
        (53, 24),
        (100, 24),
    ],
)
def test_severity_number_follows_otel(levelno: int, expected: int) -> None:
    assert expected == severity_number(levelno)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("info", 20), ("WARN", 30), ("warning", 30), ("exception", 40), ("fatal", 50), ("x", 20)],
)
def test_level_number_of_names(name: str, expected: int) -> None:
    assert expected == level_number(name)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.31, 0.31),
        (3, 3),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7),
        (np.array(2.5), 2.5),
        (decimal.Decimal("1.5"), 1.5),
        (True, None),
        (np.bool_(True), None),
        ("0.3", None),
        (b"1", None),
        (None, None),
        ([1.0], None),
        (np.array([1.0, 2.0]), None),
        ({"a": 1}, None),
    ],
)
def test_metric_value_takes_numbers_only(value: Any, expected: float | int | None) -> None:
    result = metric_value(value)
    assert expected == result
    assert type(expected) is type(result)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("epoch 3 loss=0.31 acc=0.90", {"epoch": 3, "loss": 0.31, "acc": 0.9}),
        ("Epoch 2 | eval_loss: 1.6 | ppl: 4.95", {"epoch": 2, "eval_loss": 1.6, "ppl": 4.95}),
        ("step 7: loss: 0.5, lr=1e-3", {"step": 7, "loss": 0.5, "lr": 1e-3}),
        ("at: 12:30:00 epoch: 1/10 done: 5x", {}),
        ("| epoch   1 |   200/ 2983 batches | lr 20.00 | loss  7.63", {"epoch": 1}),
        ("step=10, lr=1e-3; train/loss=-0.5", {"step": 10, "lr": 1e-3, "train/loss": -0.5}),
        ("(loss=.5) [n=4]", {"loss": 0.5, "n": 4}),
        ("version=1.2.3 path=/tmp/x id=abc1 x = 1", {}),
        ("a==1 b=2x c=3", {"c": 3}),
        ("no pairs here", {}),
    ],
)
def test_parse_key_values(message: str, expected: dict[str, float]) -> None:
    assert expected == parse_key_values(message)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"loss": 0.3, "step": 3}, ({"loss": 0.3}, 3)),
        ({"loss": 0.3, "epoch": 2, "step": 100}, ({"loss": 0.3, "epoch": 2}, 100)),
        ({"loss": 0.3, "epoch": 2.0}, ({"loss": 0.3}, 2)),
        ({"loss": 0.3, "step": 1.5}, ({"loss": 0.3, "step": 1.5}, None)),
        ({"loss": 0.3, "_private": 1, "flag": True, "name": "x"}, ({"loss": 0.3}, None)),
    ],
)
def test_split_points_finds_the_step(
    values: dict[str, Any], expected: tuple[dict[str, float], int | None]
) -> None:
    assert expected == split_points(values)


# --- log lines on the wire ----------------------------------------------------------------------
def test_log_lines_encode_as_plain_otel_records_in_order() -> None:
    handle = RunHandle(RunKey("wire-1", "exp"))
    error = ("ValueError", "bad", "Traceback ...\nValueError: bad")
    items = [
        (OP_LOG, handle, 1, 9, "INFO", "a", "first", None),
        (OP_LOG, handle, 2, 17, "ERROR", "b", "second", error),
        (OP_LOG, handle, 3, 9, "INFO", "a", "third", None),
    ]
    lines = wire_lines(items)
    assert ["first", "second", "third"] == [line["body"] for line in lines]
    assert ["a", "b", "a"] == [line["scope"] for line in lines]
    assert [9, 17, 9] == [line["severity_number"] for line in lines]
    assert ["INFO", "ERROR", "INFO"] == [line["severity_text"] for line in lines]
    assert [1, 2, 3] == [line["time_ns"] for line in lines]
    assert {
        "exception.type": "ValueError",
        "exception.message": "bad",
        "exception.stacktrace": "Traceback ...\nValueError: bad",
    } == lines[1]["attributes"]
    assert {} == lines[0]["attributes"]


# --- end to end ------------------------------------------------------------------------------
def test_extra_numbers_become_points_and_records_become_lines(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    run = runlog.Experiment(ws, "handler").start_logging()
    root_logger.addHandler(runlog.RunlogHandler(run))
    for step in range(3):
        log.info(
            "epoch %d done",
            step,
            extra={"loss": 1.0 / (step + 1), "acc": np.float32(0.5), "step": step, "note": "x"},
        )
    log.warning("explicit", extra={"metrics": {"lr": 0.1, "epoch": 7}})
    log.debug("flag only", extra={"flag": True, "text": "0.3"})
    run.complete()

    assert {
        "loss": [1.0, 0.5, 1.0 / 3],
        "acc": [0.5, 0.5, 0.5],
        "lr": 0.1,
    } == run.get_metrics()
    lines = stored_lines(run)
    assert ["epoch 0 done", "epoch 1 done", "epoch 2 done", "explicit", "flag only"] == [
        line["message"] for line in lines
    ]
    assert ["INFO", "INFO", "INFO", "WARNING", "DEBUG"] == [line["level"] for line in lines]
    assert {log.name} == {line["logger"] for line in lines}


def test_step_keys_give_the_step(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    run = runlog.Experiment(ws, "handler").start_logging()
    root_logger.addHandler(runlog.RunlogHandler(run))
    log.info("a", extra={"loss": 0.5, "epoch": 10})
    log.info("b", extra={"loss": 0.25, "epoch": 20})
    run.complete()
    series = ws.client().get_metric(run.id, "loss")
    assert ([10, 20], [0.5, 0.25]) == (series.steps, series.values)


def test_parse_messages_reads_print_style_lines(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    run = runlog.Experiment(ws, "handler").start_logging()
    root_logger.addHandler(runlog.RunlogHandler(run, parse_messages=True))
    log.info("epoch 3 loss=0.31 acc=0.90")
    log.info("step=4 loss=0.25")
    run.complete()
    assert {"loss": [0.31, 0.25], "acc": 0.9} == run.get_metrics()


def test_exceptions_keep_type_message_and_traceback(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    run = runlog.Experiment(ws, "handler").start_logging()
    root_logger.addHandler(runlog.RunlogHandler(run))
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("training step failed")
    run.complete()
    [line] = stored_lines(run)
    assert "training step failed" == line["message"]
    assert "ERROR" == line["level"]
    assert "ValueError" in line["exception"]
    assert "bad value" in line["exception"]
    assert "raise ValueError" in line["exception"]


def test_eight_threads_log_complete_and_in_order(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    run = runlog.Experiment(ws, "handler").start_logging()
    root_logger.addHandler(runlog.RunlogHandler(run))
    per_thread = 500
    start = threading.Barrier(8)

    def work(thread: int) -> None:
        start.wait()
        for i in range(per_thread):
            log.info("t%d %d", thread, i, extra={f"t{thread}": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.complete()
    assert {f"t{t}": list(range(per_thread)) for t in range(8)} == run.get_metrics()
    lines = stored_lines(run)
    assert 8 * per_thread == len(lines)
    assert list(range(1, 8 * per_thread + 1)) == [line["seq"] for line in lines]
    for t in range(8):
        mine = [int(line["message"].split()[1]) for line in lines if line["message"][1] == str(t)]
        assert list(range(per_thread)) == mine


def test_records_from_inside_runlog_do_not_loop(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    """runlog.internal propagating to a root RunlogHandler, and httpx's request log in the
    exporter thread at DEBUG, stay out of the run's lines."""
    internal = logging.getLogger("runlog.internal")
    internal.propagate = True
    root_logger.setLevel(logging.DEBUG)
    try:
        run = runlog.Experiment(ws, "handler").start_logging()
        root_logger.addHandler(runlog.RunlogHandler(run))
        log.info("bad metric name", extra={"x" * 300: 1.0})  # warns on runlog.internal
        run.flush()
        run.flush()  # a few exporter cycles with httpx logging at DEBUG
        log.info("after")
        run.complete()
        messages = [line["message"] for line in stored_lines(run)]
    finally:
        internal.propagate = False
    assert ["bad metric name", "after"] == messages


def test_queries_of_a_users_own_client_stay_out_of_the_run(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger, tmp_path: Any
) -> None:
    """httpx logs each request at INFO; a root RunlogHandler must not record the requests
    of any runlog Client, not only the workspace's (downloads included)."""
    from runlog.client import Client

    root_logger.setLevel(logging.DEBUG)
    run = runlog.Experiment(ws, "handler").start_logging()
    run.upload_file("outputs/a.txt", b"hello")
    run.flush()
    root_logger.addHandler(runlog.RunlogHandler(run))
    log.info("before")
    with Client(ws.endpoint) as own:
        own.get_run(run.id)
        own.download_file(run.id, "outputs/a.txt", tmp_path / "a.txt")
    log.info("after")
    run.complete()
    assert ["before", "after"] == [line["message"] for line in stored_lines(run)]


def test_dict_config_builds_the_handler(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    with runlog.Experiment(ws, "handler").start_logging() as run:
        logging.config.dictConfig(
            {
                "version": 1,
                "incremental": False,
                "disable_existing_loggers": False,
                "handlers": {
                    "runlog": {
                        "class": "runlog.RunlogHandler",
                        "level": "INFO",
                        "parse_messages": True,
                    }
                },
                "root": {"handlers": ["runlog"], "level": "DEBUG"},
            }
        )
        [handler] = [h for h in root_logger.handlers if isinstance(h, runlog.RunlogHandler)]
        assert handler.parse_messages
        log.debug("not at INFO loss=9")
        log.info("from dictConfig loss=0.5")
    assert {"loss": 0.5} == run.get_metrics()
    assert ["from dictConfig loss=0.5"] == [line["message"] for line in stored_lines(run)]


def test_install_logging_is_idempotent_and_follows_the_active_run(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    handler = runlog.install_logging()
    assert handler is runlog.install_logging()
    assert 1 == sum(isinstance(h, runlog.RunlogHandler) for h in root_logger.handlers)
    with runlog.Experiment(ws, "handler").start_logging() as outer:
        log.info("outer", extra={"v": 1})
        with outer.child_run() as inner:
            assert inner is runlog.active_run()
            log.info("inner", extra={"v": 2})
        assert outer is runlog.active_run()
        log.info("outer again", extra={"v": 3})
    runlog.uninstall_logging()
    assert handler not in root_logger.handlers
    assert {"v": [1, 3]} == outer.get_metrics()
    assert {"v": 2} == inner.get_metrics()
    assert ["inner"] == [line["message"] for line in stored_lines(inner)]


def test_install_logging_changes_no_level(root_logger: logging.Logger) -> None:
    root_logger.setLevel(logging.WARNING)
    runlog.install_logging()
    assert logging.WARNING == root_logger.level


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_runlogs_own_records_never_reach_the_users_handlers(
    ws: runlog.Workspace, root_logger: logging.Logger, log: logging.Logger
) -> None:
    """httpx's request lines from runlog's exporter and queries stay out of user handlers."""
    kept = _Kept()
    root_logger.addHandler(kept)
    root_logger.setLevel(logging.DEBUG)  # the user asked for everything
    runlog.install_logging()
    with runlog.Experiment(ws, "handler").start_logging() as run:
        log.info("mine")
        run.log("loss", 0.5)
        run.flush()
    assert {"loss": 0.5} == run.get_metrics()  # a query, through httpx, from this thread
    assert ["mine"] == [r.getMessage() for r in kept.records if not r.name.startswith("runlog")]


def test_a_broken_handler_run_does_not_raise(
    root_logger: logging.Logger, log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """An internal error is reported once on runlog.internal, never raised into the caller."""

    class NotARun:
        pass

    internal = logging.getLogger("runlog.internal")
    internal.addHandler(caplog.handler)
    try:
        handler = runlog.RunlogHandler(NotARun())  # type: ignore[arg-type]  # not a Run, on purpose
        root_logger.addHandler(handler)
        log.info("one")
        log.info("two")
    finally:
        internal.removeHandler(caplog.handler)
    reports = [r for r in caplog.records if r.name == "runlog.internal"]
    assert ["RunlogHandler could not record a log record of %r"] == [r.msg for r in reports]
