"""`runlog._recorder.RunRecorder`: the typed methods every producer records through, checked
on what travelled (`runlog.testing.capture` decodes the real OTLP requests)."""

from __future__ import annotations

import logging

import pytest
import structlog
from collector_process import free_port

import runlog
from runlog import _lifecycle
from runlog import conventions as c
from runlog._recorder import RunRecorder
from runlog.testing import capture

pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture(autouse=True)
def _nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """No collector listens: everything goes to the capture."""
    monkeypatch.setenv(c.ENV_ENDPOINT, f"http://127.0.0.1:{free_port()}")


def test_a_run_is_the_recorder_its_producers_write_through() -> None:
    with capture(), runlog.start_run("rec") as run:
        assert isinstance(run, RunRecorder)
        assert run is runlog.active_run()
        assert run is _lifecycle.innermost()


def test_log_line_with_a_stream_and_an_exception() -> None:
    with capture() as recorded, runlog.start_run("rec") as run:
        run.log_line("epoch 1 done", "stdout", 9, "INFO", stream="stdout")
        run.log_line(
            "boom", "trainer", 17, "ERROR", exception=("ValueError", "bad", "Traceback ...")
        )
    logs = recorded.run().logs
    assert {"level": "INFO", "logger": "stdout", "message": "epoch 1 done"}.items() <= logs[
        0
    ].items()
    assert "stdout" == logs[0]["stream"]
    assert ("ERROR", "trainer", "boom", None) == (
        logs[1]["level"],
        logs[1]["logger"],
        logs[1]["message"],
        logs[1]["stream"],
    )


def test_points_event_and_a_finish_without_waiting() -> None:
    with capture() as recorded:
        run = runlog.start_run("rec")
        run.points("scores", c.KIND_LIST, {"": [0.5, 0.75]})
        run.event(c.EVENT_RUN_STATUS, ((c.STATUS, c.STATUS_FINALIZING),))
        run.finish(c.STATUS_FAILED, "stopped by hand", wait=False)
        assert run.finished
        assert _lifecycle.innermost() is not run  # finished runs leave the registry
    captured = recorded.run()
    assert [0.5, 0.75] == captured.metrics["scores"]
    assert (c.STATUS_FAILED, "stopped by hand") == (captured.status, captured.error)


def test_record_params_keeps_a_changed_value_instead_of_refusing_it() -> None:
    with capture() as recorded, runlog.start_run("rec") as run:
        run.record_params({"lr": 0.1, "optimizer": "SGD"})
        run.record_params({"lr": 0.01, "optimizer": "Adam"})
    captured = recorded.run()
    assert {"lr": "0.1", "optimizer": "SGD", "optimizer.2": "Adam"} == captured.params
    assert [0.1, 0.01] == captured.metrics["lr"]


def test_the_handler_and_the_processor_record_through_the_active_run() -> None:
    logger = logging.getLogger("rec.test")
    logger.setLevel(logging.INFO)
    handler = runlog.RunlogHandler()
    logger.addHandler(handler)
    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[runlog.RunlogProcessor(), structlog.processors.KeyValueRenderer()],
    )
    try:
        with capture() as recorded, runlog.start_run("rec"):
            logger.info("stdlib line", extra={"loss": 0.5})
            log.info("structlog line", accuracy=0.75)
    finally:
        logger.removeHandler(handler)
    captured = recorded.run()
    assert ["stdlib line", "structlog line accuracy=0.75"] == [
        line["message"] for line in captured.logs
    ]
    assert ([0.5], [0.75]) == (captured.metrics["loss"], captured.metrics["accuracy"])
