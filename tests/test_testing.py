"""`runlog.testing`: what training code recorded, captured with no collector running."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from collector_process import free_port

import runlog
from runlog import conventions as c
from runlog.testing import Recorder, capture

pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture(autouse=True)
def _nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """No collector listens at the configured endpoint: nothing may try to reach one."""
    monkeypatch.setenv(c.ENV_ENDPOINT, f"http://127.0.0.1:{free_port()}")


def test_capture_records_metrics_params_tags_and_status(tmp_path: Path) -> None:
    params, tags = {"alpha": 0.5}, {"team": "a"}
    with capture() as recorded, runlog.start_run("demo", params=params, tags=tags) as run:
        for step in range(3):
            run.log("loss", 1.0 / (step + 1))
        run.log("acc", 0.9, step=10)
        run.log("note", "fine")
        run.log_list("hist", [1, 2, 3])
        run.log_row("pr", precision=0.5, recall=0.25)
        run.add_properties({"dataset": "iris"})
        run.tag("stage", "dev")
    captured = recorded.run()
    assert run.id == captured.run_id
    assert "demo" == captured.experiment
    assert [1.0, 0.5, 1.0 / 3] == captured.metrics["loss"]
    assert [0, 1, 2] == captured.steps["loss"]
    assert ([0.9], [10]) == (captured.metrics["acc"], captured.steps["acc"])
    assert ["fine"] == captured.metrics["note"]
    assert [1, 2, 3] == captured.metrics["hist"]
    assert {"precision": [0.5], "recall": [0.25]} == captured.metrics["pr"]
    assert {"alpha": "0.5"} == captured.params
    assert {"team": "a", "stage": "dev"} == captured.tags
    assert {"dataset": "iris"} == captured.properties
    assert "Completed" == captured.status
    assert not (tmp_path / "spool").exists()  # nothing waited for a collector


def test_capture_records_log_lines_files_and_failures(root_logger: logging.Logger) -> None:
    with capture() as recorded:
        run = runlog.start_run("demo")
        runlog.install_logging(run=run)
        logging.getLogger("train").warning("lr too high: %s", 0.5)
        run.upload_file("outputs/model.txt", b"weights")
        run.fail(ValueError("diverged"))
    captured = recorded.run(run.id)
    assert [{"level": "WARNING", "logger": "train", "message": "lr too high: 0.5"}] == [
        {k: line[k] for k in ("level", "logger", "message")} for line in captured.logs
    ]
    assert {"outputs/model.txt": b"weights"} == captured.files
    assert "Failed" == captured.status
    assert "diverged" in (captured.error or "")


def test_several_runs_are_told_apart() -> None:
    with (
        capture() as recorded,
        runlog.start_run("a", run_id="run-a") as parent,
        parent.child_run(run_id="run-b") as child,
    ):
        child.log("x", 1)
    assert ["run-a", "run-b"] == sorted(recorded.runs)
    assert "run-a" == recorded.run("run-b").parent_id
    assert [1] == recorded.run("run-b").metrics["x"]
    with pytest.raises(LookupError, match="2 runs"):
        recorded.run()


def test_a_recorder_is_an_injectable_transport_for_one_workspace() -> None:
    recorder = Recorder()
    ws = runlog.Workspace(transport=recorder)
    run = runlog.Experiment(ws, "injected").start_logging()
    run.log("loss", 0.1)
    assert run.flush(10)
    assert [0.1] == recorder.run(run.id).metrics["loss"]
    run.complete()
    assert "Completed" == recorder.run(run.id).status
