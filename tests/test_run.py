"""The run API end to end: the real client against a real collector process."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from collector_process import run_collector

import runlog
from runlog import conventions as c
from runlog.spool import sync

pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture
def unused_endpoint() -> str:
    """An endpoint where nothing listens (connection refused at once)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def ws(collector: Any) -> runlog.Workspace:
    return runlog.Workspace(collector.endpoint)


def _script_env(collector: Any, spool: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, c.ENV_ENDPOINT: collector.endpoint, c.ENV_SPOOL_DIR: str(spool), **extra}
    env.pop(c.ENV_RUN_ID, None)
    return env


def test_rows_with_differing_columns_keep_their_alignment(ws: runlog.Workspace) -> None:
    run = runlog.Experiment(ws, "rows").start_logging()
    run.log_row("tbl", a=1, b=2)
    run.log_row("tbl", a=3, c="x")
    run.complete()

    assert {"tbl": {"a": [1, 3], "b": [2, None], "c": [None, "x"]}} == run.get_metrics()


def test_issue_example_gives_azure_ml_shapes(ws: runlog.Workspace, tmp_path: Path) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04model")
    run = runlog.Experiment(ws, "train-within-notebook").start_logging()
    run.log("alpha", 0.03)
    run.log("mse", 3424.3)
    run.log_list("accuracies", [0.6, 0.7, 0.87])
    for i in range(-10, 10):
        run.log("sigmoid", 1 / (1 + math.exp(-i)))
    run.log_row("Cosine Wave", angle=0.5, cos=0.877)
    run.log_row("Cosine Wave", angle=1.0, cos=0.54)
    run.log_table("Sine Wave", {"angle": [0, 1, 2], "sine": [0.0, 0.84, 0.91]})
    plt.figure()
    plt.plot([0, 1], [0, 1])
    run.log_image("ROC", plot=plt)
    run.tag("selected", "yes")
    run.upload_file(name="outputs/model.pkl", path_or_stream=str(model))
    run.complete()

    assert {
        "alpha": 0.03,
        "mse": 3424.3,
        "accuracies": [0.6, 0.7, 0.87],
        "sigmoid": [1 / (1 + math.exp(-i)) for i in range(-10, 10)],
        "Cosine Wave": {"angle": [0.5, 1.0], "cos": [0.877, 0.54]},
        "Sine Wave": {"angle": [0, 1, 2], "sine": [0.0, 0.84, 0.91]},
        "ROC": "images/ROC.png",
    } == run.get_metrics()
    assert ["images/ROC.png", "outputs/model.pkl"] == sorted(run.get_file_names())
    assert "Completed" == run.get_status()
    assert {"selected": "yes"} == run.get_tags()
    assert {"sigmoid": run.get_metrics()["sigmoid"]} == run.get_metrics("sigmoid")


def _same(expected: list[Any], actual: list[Any]) -> bool:
    def key(v: Any) -> Any:
        return (
            ("nan",)
            if isinstance(v, float) and math.isnan(v)
            else (type(v), v, math.copysign(1, v) if isinstance(v, float) else 0)
        )

    return [key(v) for v in expected] == [key(v) for v in actual]


@pytest.mark.parametrize("repeat", [1, 3000])  # 3000 x 4 points: the binary vector path
def test_values_survive_bit_exactly(ws: runlog.Workspace, repeat: int) -> None:
    floats = [0.1, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308] * repeat
    ints = [2**63 - 1, -(2**63), 2**53 + 1, 0] * repeat
    with runlog.start_run("exact", workspace=ws) as run:
        for v in floats:
            run.log("floats", v)
        for v in ints:
            run.log("ints", v)
        run.log("flags", True)
        run.log("flags", False)
        run.log("words", "ünïcode ✓")
    metrics = run.get_metrics()
    assert _same(floats, metrics["floats"])
    assert ints == metrics["ints"]
    assert all(type(v) is int for v in metrics["ints"])
    assert [True, False] == metrics["flags"]
    assert "ünïcode ✓" == metrics["words"]


def test_numpy_scalars_and_explicit_steps(ws: runlog.Workspace) -> None:
    np = pytest.importorskip("numpy")
    with runlog.start_run("steps", workspace=ws) as run:
        run.log("loss", np.float32(0.5), step=10)
        run.log("loss", np.float64(0.25))
        run.log("count", np.int64(7))
    series = ws.client().get_metric(run.id, "loss")
    assert [10, 11] == series.steps
    assert [0.5, 0.25] == series.values
    assert 7 == run.get_metrics()["count"]


def test_unknown_run_raises_not_found(ws: runlog.Workspace) -> None:
    with pytest.raises(runlog.NotFoundError, match="no-such-run"):
        runlog.Run(runlog.Experiment(ws, "x"), "no-such-run")
    with pytest.raises(runlog.NotFoundError):
        ws.get_run("no-such-run")


def test_bad_logging_input_warns_and_keeps_the_rest(
    ws: runlog.Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    logger = runlog_logger_capture(caplog)
    with runlog.start_run("bad-input", workspace=ws) as run:
        run.log("", 1.0)
        run.log("x" * 300, 1.0)
        run.log("loss", 1.0, step=math.nan)
        run.log("loss", object())
        run.log("loss", 2.0)
        run.upload_file("../escape.txt", b"x")
        run.upload_file("/etc/passwd", b"x")
        run.log_table("t", {"a": [1, 2], "b": [1]})
        run.log_image("img")
        run.log_params({"alpha": 0.1})
        run.log_params({"alpha": 0.2})
    assert {"loss": 2.0} == run.get_metrics()
    assert [] == run.get_file_names()
    assert {"alpha": "0.1"} == run.get_params()
    text = logger.text
    for fragment in (
        "must not be empty",
        "limit is 255",
        "finite",
        "float, int, bool or str",
        "'..'",
        "relative",
        "differ in length",
        "exactly one of",
        "cannot change",
    ):
        assert fragment in text


def test_a_param_autolog_sees_change_is_kept_without_a_word(
    ws: runlog.Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    logger = runlog_logger_capture(caplog)
    with runlog.start_run("autolog-params", workspace=ws) as run:
        run.record_params({"lr": 0.1, "optimizer": "SGD", "epochs": 3})
        run.record_params({"lr": 0.1, "optimizer": "SGD"})  # the same again: nothing
        run.record_params({"lr": 0.01, "optimizer": "Adam"})
        run.record_params({"lr": 0.001, "optimizer": "AdamW"})
    assert "" == logger.text
    assert {
        "lr": "0.1",
        "optimizer": "SGD",
        "optimizer.2": "Adam",
        "optimizer.3": "AdamW",
        "epochs": "3",
    } == run.get_params()
    assert {"lr": [0.1, 0.01, 0.001]} == run.get_metrics()


def runlog_logger_capture(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """runlog.internal does not propagate; attach caplog's handler to it directly."""
    import logging

    logging.getLogger("runlog.internal").addHandler(caplog.handler)
    return caplog


def test_context_manager_fails_the_run_and_reraises_untouched(ws: runlog.Workspace) -> None:
    error = KeyError("boom")
    with pytest.raises(KeyError) as caught, runlog.start_run("ctx", workspace=ws) as run:
        run.log("loss", 1.0)
        raise error
    assert error is caught.value
    details = run.get_details()
    assert "Failed" == details["status"]
    assert "KeyError: 'boom'" in details["error"]


def test_child_runs_and_get_runs(ws: runlog.Workspace) -> None:
    exp = runlog.Experiment(ws, "family")
    with exp.start_logging(name="parent") as parent, parent.child_run(name="kid") as child:
        child.log("x", 1)
    assert parent.id == child.get_details()["parentRunId"]
    assert [child.id] == [r.id for r in parent.get_children()]
    assert [parent.id] == [r.id for r in exp.get_runs()]
    assert {parent.id, child.id} == {r.id for r in exp.get_runs(include_children=True)}


def test_get_runs_quotes_values_and_keeps_or_inside_its_filter(ws: runlog.Workspace) -> None:
    """Tag values with quotes match (they were sent with backslashes: a 400), and a user
    filter with OR stays one clause (it was joined to the others without parentheses)."""
    exp = runlog.Experiment(ws, "quoting")
    with exp.start_logging(name="a", tags={"owner": "o'brien"}) as first:
        first.tag("my tag", 'say "hi"')
        with first.child_run(name="kid") as kid:
            kid.tag("owner", "o'brien")
    with exp.start_logging(name="b", tags={"owner": "x"}) as second:
        pass

    assert [first.id] == [r.id for r in exp.get_runs(tags={"owner": "o'brien"})]
    assert [first.id] == [r.id for r in exp.get_runs(tags={"my tag": 'say "hi"'})]
    either = "tags.owner = 'x' or tags.owner = 'o''brien'"
    assert {first.id, second.id} == {r.id for r in exp.get_runs(filter=either)}


def test_recursive_metrics_and_children_include_every_descendant(ws: runlog.Workspace) -> None:
    """As Azure ML v1: ``get_metrics(recursive=True)`` is ``{run_id: metrics}`` of the run
    and all its descendants (it returned the run's own metrics only)."""
    exp = runlog.Experiment(ws, "recursive")
    with exp.start_logging(name="parent") as parent:
        parent.log("loss", 1.0)
        with parent.child_run(name="kid") as kid:
            kid.log("loss", 2.0)
            kid.tag("fold", "1")
            with kid.child_run(name="grandkid") as grandkid:
                grandkid.log("acc", 0.5)
    for run in (parent, kid, grandkid):
        run.flush(30)

    assert {
        parent.id: {"loss": 1.0},
        kid.id: {"loss": 2.0},
        grandkid.id: {"acc": 0.5},
    } == parent.get_metrics(recursive=True)
    assert {parent.id: {"loss": 1.0}, kid.id: {"loss": 2.0}} == parent.get_metrics(
        "loss", recursive=True
    )
    assert {"loss": 1.0} == parent.get_metrics()
    assert [kid.id, grandkid.id] == [r.id for r in parent.get_children(recursive=True)]
    assert [kid.id] == [r.id for r in parent.get_children()]
    assert [kid.id] == [r.id for r in parent.get_children(recursive=True, tags={"fold": "1"})]


def test_experiment_list_selects_by_name(ws: runlog.Workspace) -> None:
    with runlog.Experiment(ws, "listed-a").start_logging():
        pass
    with runlog.Experiment(ws, "listed-b").start_logging():
        pass

    found = runlog.Experiment.list(ws, experiment_name="listed-b")

    assert ["listed-b"] == [e.name for e in found]
    assert {"listed-a", "listed-b"} <= {e.name for e in runlog.Experiment.list(ws)}


def test_files_round_trip_byte_exactly(ws: runlog.Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    payload = os.urandom(300_000)
    (folder / "sub" / "blob.bin").write_bytes(payload)
    (folder / "a.txt").write_text("hello")
    with runlog.start_run("files", workspace=ws) as run:
        run.upload_folder("outputs", folder)
    assert ["outputs/a.txt", "outputs/sub/blob.bin"] == sorted(run.get_file_names())
    local = run.download_file("outputs/sub/blob.bin", tmp_path / "copy.bin")
    assert payload == Path(local).read_bytes()


def test_collector_down_spools_and_sync_replays(tmp_path: Path, unused_endpoint: str) -> None:
    spool = tmp_path / "spool"
    script = textwrap.dedent("""
        import runlog
        with runlog.start_run("offline", name="spooled", run_id="offline-run-1") as run:
            for i in range(1000):
                run.log("loss", i / 1000)
            run.upload_file("outputs/x.txt", b"kept")
    """)
    env = {**os.environ, c.ENV_ENDPOINT: unused_endpoint, c.ENV_SPOOL_DIR: str(spool)}
    env[c.ENV_FLUSH_TIMEOUT] = "2"
    env.pop(c.ENV_RUN_ID, None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert 0 == done.returncode, done.stderr
    assert "spool" in done.stderr
    assert any(spool.iterdir())
    port = int(unused_endpoint.rsplit(":", 1)[1])
    with run_collector(tmp_path / "data", port=port) as collector:  # the collector is back
        result = sync(collector.endpoint, directory=spool)
        assert (0, {collector.endpoint: result.sent}) == (result.failed, result.delivered)
        run = runlog.Workspace(collector.endpoint).get_run("offline-run-1")
        assert [i / 1000 for i in range(1000)] == run.get_metrics()["loss"]
        assert ["outputs/x.txt"] == run.get_file_names()
        assert "Completed" == run.get_status()


def _run_script(
    collector: Any, tmp_path: Path, body: str, **env: str
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)],
        env=_script_env(collector, tmp_path / "spool", **env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def test_get_context_outside_a_launch_records_a_run_named_after_the_script(
    collector: Any, tmp_path: Path, ws: runlog.Workspace
) -> None:
    done = _run_script(
        collector,
        tmp_path,
        """
        from runlog import Run
        run = Run.get_context()
        run.log("loss", 0.5)
        print(run.id)
    """,
        RUNLOG_EXPERIMENT="scripts",
    )
    assert 0 == done.returncode, done.stderr
    run = ws.get_run(done.stdout.strip())
    assert "train.py" == run.name
    assert "Completed" == run.get_status()
    assert {"loss": 0.5} == run.get_metrics()


def test_get_context_from_many_threads_at_once_starts_one_run(
    collector: Any, tmp_path: Path, ws: runlog.Workspace
) -> None:
    """Threads racing into the first `Run.get_context` share one run (each started its own
    and all but one were left behind as stray runs)."""
    done = _run_script(
        collector,
        tmp_path,
        """
        import threading
        from runlog import Run
        barrier, ids = threading.Barrier(16), set()
        def ask():
            barrier.wait()
            ids.add(Run.get_context().id)
        threads = [threading.Thread(target=ask) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(ids))
    """,
        RUNLOG_EXPERIMENT="context-race",
    )
    assert 0 == done.returncode, done.stderr
    assert "1" == done.stdout.strip()
    assert 1 == len(list(runlog.Experiment(ws, "context-race").get_runs()))


def test_get_context_inside_a_launched_process_joins_that_run(
    collector: Any, tmp_path: Path, ws: runlog.Workspace
) -> None:
    parent = runlog.Experiment(ws, "launcher").start_logging(run_id="launched-1")
    done = _run_script(
        collector,
        tmp_path,
        """
        from runlog import Run
        Run.get_context().log("child_metric", 42)
    """,
        **parent.otel_environment(),
    )
    assert 0 == done.returncode, done.stderr
    assert "Running" == parent.get_status()  # the child does not finish its parent's run
    parent.complete()
    assert {"child_metric": 42} == parent.get_metrics()


def test_uncaught_exception_fails_the_run_with_its_traceback(
    collector: Any, tmp_path: Path, ws: runlog.Workspace
) -> None:
    done = _run_script(
        collector,
        tmp_path,
        """
        import runlog
        run = runlog.start_run("crash", run_id="crash-1")
        run.log("loss", 1.0)
        raise ValueError("diverged")
    """,
    )
    assert 1 == done.returncode
    assert "ValueError: diverged" in done.stderr
    details = ws.get_run("crash-1").get_details()
    assert "Failed" == details["status"]
    assert "ValueError: diverged" in details["error"]


def test_sigterm_cancels_the_run_and_keeps_its_data(
    collector: Any, tmp_path: Path, ws: runlog.Workspace
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent("""
        import time, runlog
        run = runlog.start_run("term", run_id="term-1")
        run.log("loss", 1.0)
        run.flush()
        print("ready", flush=True)
        time.sleep(60)
    """)
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=_script_env(collector, tmp_path / "spool"),
    )
    assert process.stdout is not None
    assert "ready" == process.stdout.readline().strip()
    process.send_signal(signal.SIGTERM)
    assert -signal.SIGTERM == process.wait(30)
    run = ws.get_run("term-1")
    assert "Canceled" == run.get_status()
    assert {"loss": 1.0} == run.get_metrics()


def test_workspace_from_config_walks_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".runlog").mkdir()
    (tmp_path / ".runlog" / "config.json").write_text(
        '{"endpoint": "http://127.0.0.1:9/", "token": "t"}'
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv(c.ENV_ENDPOINT, raising=False)
    ws = runlog.Workspace.from_config()
    assert ("http://127.0.0.1:9", "t") == (ws.endpoint, ws.token)


def test_workspace_from_config_errors_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runlog.ConfigError, match=r"no \.runlog/config\.json found"):
        runlog.Workspace.from_config()
    (tmp_path / ".runlog").mkdir()
    (tmp_path / ".runlog" / "config.json").write_text("[1]")
    with pytest.raises(runlog.ConfigError, match="JSON object"):
        runlog.Workspace.from_config()


def test_experiment_name_is_checked() -> None:
    with pytest.raises(runlog.InvalidArgumentError, match="must not be empty"):
        runlog.Experiment("")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_exports_its_own_points_once(ws: runlog.Workspace) -> None:
    """DataLoader workers fork: the child gets its own exporter, and nothing twice."""
    run = runlog.Experiment(ws, "fork").start_logging()
    run.log("loss", 1.0)
    run.flush()
    run.log("loss", 2.0)  # still buffered at fork time: belongs to the parent alone
    pid = os.fork()
    if pid == 0:  # the child: log, flush, leave without running the parent's exit hooks
        code = 0
        try:
            run.log("child", 42)
            code = 0 if run.flush(10) else 3
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert 0 == os.waitstatus_to_exitcode(status)
    run.complete()
    assert {"loss": [1.0, 2.0], "child": 42} == run.get_metrics()


def test_an_idle_connection_closed_by_the_collector_is_not_an_outage(
    ws: runlog.Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn drops idle keep-alive connections after 5 s; the next export must reconnect."""
    logger = runlog_logger_capture(caplog)
    run = runlog.Experiment(ws, "idle").start_logging()
    run.log("loss", 1.0)
    assert run.flush(10)
    time.sleep(6)
    run.log("loss", 2.0)
    assert run.flush(10)
    run.complete()
    assert [1.0, 2.0] == run.get_metrics()["loss"]
    assert "spool" not in logger.text
    assert not (tmp_path / "spool").exists() or not any((tmp_path / "spool").glob("*.logs.pb"))
