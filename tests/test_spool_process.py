"""The spool end to end: real client processes, real collectors, `runlog sync` (issue 9)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import _otlp_json as otlp
from click.testing import CliRunner
from collector_process import Collector, free_port, run_collector
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

import runlog
from runlog import conventions as c
from runlog.cli import cli
from runlog.client import Client
from runlog.spool import QUARANTINE_DIR, Spool


def new_id() -> str:
    return f"spool-{uuid.uuid4().hex[:10]}"


def spool_point(directory: Path, destination: str, run_id: str) -> Path:
    """One logs request for *run_id*, spooled for *destination* as an offline client does."""
    body = json_format.ParseDict(
        otlp.request(run_id, "spool-e2e", [otlp.point("m", 1.0)]), ExportLogsServiceRequest()
    )
    return Spool(directory, destination=destination).write_logs(body.SerializeToString())


def has_run(collector: Collector, run_id: str) -> bool:
    with collector.client() as client:
        return client.get(f"/api/v1/runs/{run_id}").status_code == 200


def run_script(body: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sync_sends_each_entry_to_its_collector_and_lists_the_rest(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    nowhere = f"http://127.0.0.1:{free_port()}"
    with (
        run_collector(tmp_path / "a") as a,
        run_collector(tmp_path / "b") as b,
    ):
        run_a, run_b, run_lost = new_id(), new_id(), new_id()
        torn = spool_point(spool, a.endpoint, new_id())
        torn.write_bytes(torn.read_bytes()[:-3])
        spool_point(spool, a.endpoint, run_a)
        spool_point(spool, b.endpoint.replace("127.0.0.1", "localhost"), run_b)
        spool_point(spool, nowhere, run_lost)

        result = CliRunner().invoke(
            cli, ["sync", "--spool-dir", str(spool)], env={c.ENV_ENDPOINT: a.endpoint}
        )

        assert (True, False) == (has_run(a, run_a), has_run(a, run_b))
        assert (True, False) == (has_run(b, run_b), has_run(b, run_a))
    assert 3 == result.exit_code, result.output
    assert f"replayed 1 spooled entry to {a.endpoint}\n" in result.stdout
    assert "replayed 1 spooled entry to http://localhost:" in result.stdout
    assert f"set aside a corrupt entry: {spool / QUARANTINE_DIR / torn.name}" in result.stdout
    assert f"could not deliver 1 entry to {nowhere}" in result.stderr
    assert {nowhere: 1} == Spool(spool, check=False).destinations()


def test_an_unwritable_spool_does_not_stop_uploads(collector: Collector, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(200_000))
    run_id = new_id()
    done = run_script(
        f"""
        import runlog
        with runlog.start_run("unwritable", run_id={run_id!r}) as run:
            run.log("loss", 0.5)
            assert run.upload_file("weights.bin", {str(weights)!r})
            assert run.upload_file("note.txt", b"note")
        """,
        **{c.ENV_ENDPOINT: collector.endpoint, c.ENV_SPOOL_DIR: str(tmp_path / "a-file" / "s")},
    )
    assert 0 == done.returncode, done.stderr
    assert 1 == done.stderr.count("cannot be written")
    run = runlog.Workspace(collector.endpoint).get_run(run_id)
    assert ["note.txt", "weights.bin"] == sorted(run.get_file_names())
    copy = run.download_file("weights.bin", tmp_path / "copy.bin")
    assert weights.read_bytes() == Path(copy).read_bytes()


def test_an_endpoint_with_the_otlp_path_still_delivers(
    collector: Collector, tmp_path: Path
) -> None:
    run_id = new_id()
    done = run_script(
        f"""
        import runlog
        with runlog.start_run("with-path", run_id={run_id!r}) as run:
            run.log("loss", 0.25)
        """,
        **{c.ENV_ENDPOINT: collector.endpoint + "/v1/logs", c.ENV_SPOOL_DIR: str(tmp_path)},
    )
    assert 0 == done.returncode, done.stderr
    with Client(collector.endpoint) as client:
        assert {"loss": 0.25} == client.get_metrics(run_id)


def test_a_wrong_endpoint_path_keeps_the_data(collector: Collector, tmp_path: Path) -> None:
    run_id = new_id()
    done = run_script(
        f"""
        import runlog
        with runlog.start_run("wrong-path", run_id={run_id!r}) as run:
            run.log("loss", 0.75)
        """,
        **{
            c.ENV_ENDPOINT: collector.endpoint + "/not-runlog",
            c.ENV_SPOOL_DIR: str(tmp_path / "spool"),
            c.ENV_FLUSH_TIMEOUT: "2",
        },
    )
    assert 0 == done.returncode, done.stderr
    assert "dropped" not in done.stderr
    assert "404" in done.stderr
    result = CliRunner().invoke(
        cli,
        ["sync", "--all", "--spool-dir", str(tmp_path / "spool")],
        env={c.ENV_ENDPOINT: collector.endpoint},
    )
    assert 0 == result.exit_code, result.output
    with Client(collector.endpoint) as client:
        assert {"loss": 0.75} == client.get_metrics(run_id)


def on_terminal(script: str, **env: str) -> bytes:
    """Run *script* with stderr on a pseudo-terminal; return what it drew there."""
    import pty

    environment = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    environment.update(env)
    leader, follower = pty.openpty()
    with open(os.devnull, "rb") as nothing:
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            env=environment,
            stdin=nothing,
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
    os.close(follower)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the process has exited
        while chunk := os.read(leader, 65536):
            shown += chunk
    os.close(leader)
    assert 0 == process.wait(60), shown.decode(errors="replace")
    return shown


BAR_SCRIPT = """
    import runlog, runlog._progress
    runlog._progress.MIN_BYTES = 1024 * 1024  # "long" for this test
    with runlog.start_run("bar") as run:
        run.upload_file("big.bin", {path!r})
"""


def test_a_long_upload_shows_a_progress_bar_on_a_terminal(
    collector: Collector, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * 1024 * 1024))
    shown = on_terminal(
        BAR_SCRIPT.format(path=str(big)),
        **{c.ENV_ENDPOINT: collector.endpoint, c.ENV_SPOOL_DIR: str(tmp_path)},
    )
    assert b"runlog: big.bin" in shown


def test_a_long_background_copy_shows_a_progress_bar_on_a_terminal(
    collector: Collector, tmp_path: Path
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        import pytest

        pytest.skip("needs a second filesystem for the spool (no hard link possible)")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * 1024 * 1024))
    spool_dir = shm / f"runlog-test-{uuid.uuid4().hex}"
    try:
        shown = on_terminal(
            BAR_SCRIPT.format(path=str(big)),
            **{c.ENV_ENDPOINT: collector.endpoint, c.ENV_SPOOL_DIR: str(spool_dir)},
        )
    finally:
        import shutil

        shutil.rmtree(spool_dir, ignore_errors=True)
    assert b"runlog: keeping big.bin for upload" in shown


def test_a_reconnecting_client_replays_only_its_collectors_entries(
    collector: Collector, tmp_path: Path, client_env: None
) -> None:
    spool = Path(os.environ[c.ENV_SPOOL_DIR])
    other_run = new_id()
    spool_point(spool, collector.endpoint, other_run)  # meant for the session's collector
    port = free_port()
    ws = runlog.Workspace(f"http://127.0.0.1:{port}")
    run = runlog.start_run("reconnect", workspace=ws)
    run.log("m", 1.0)
    assert run.flush(timeout=5)  # the collector is away: spooled
    with run_collector(tmp_path / "data", port=port) as back:
        run.log("m", 2.0)
        run.complete()
        deadline = time.monotonic() + 30
        while not (has_run(back, run.id) and len(run.get_metrics().get("m", [])) == 2):
            assert time.monotonic() < deadline, back.log()
            time.sleep(0.2)
        assert [1.0, 2.0] == run.get_metrics()["m"]
        assert False is has_run(back, other_run)
    assert {collector.endpoint: 1} == Spool(spool, check=False).destinations()


def test_sync_takes_back_an_entry_claimed_by_a_process_that_died(
    collector: Collector, tmp_path: Path
) -> None:
    run_id = new_id()
    entry = spool_point(tmp_path, collector.endpoint, run_id)
    died = subprocess.Popen([sys.executable, "-c", "pass"])
    died.wait()
    os.rename(entry, f"{entry}.inflight-{died.pid}")  # it was sending this when it died
    result = CliRunner().invoke(
        cli, ["sync", "--spool-dir", str(tmp_path)], env={c.ENV_ENDPOINT: collector.endpoint}
    )
    assert (0, f"replayed 1 spooled entry to {collector.endpoint}\n") == (
        result.exit_code,
        result.output,
    )
    assert has_run(collector, run_id)


def test_a_file_staged_just_before_exit_is_kept(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        import pytest

        pytest.skip("needs a second filesystem for the spool (no hard link possible)")
    big = tmp_path / "big.bin"
    with open(big, "wb") as stream:  # big enough to outlast the end of the process
        for _ in range(10):
            stream.write(os.urandom(16 * 1024 * 1024))
    spool_dir = shm / f"runlog-test-{uuid.uuid4().hex}"
    try:
        done = run_script(
            f"""
            import runlog
            run = runlog.start_run("exit-staging")
            run.upload_file("big.bin", {str(big)!r})  # copied in the background
            """,  # ...and the process ends at once
            **{
                c.ENV_ENDPOINT: f"http://127.0.0.1:{free_port()}",
                c.ENV_SPOOL_DIR: str(spool_dir),
                c.ENV_FLUSH_TIMEOUT: "1",
            },
        )
        assert 0 == done.returncode, done.stderr
        uploads = [p for p in spool_dir.iterdir() if p.name.endswith(".upload")]
        assert [big.stat().st_size] == [p.stat().st_size for p in uploads]
        assert [] == [p.name for p in spool_dir.iterdir() if p.name.endswith(".tmp")]
    finally:
        import shutil

        shutil.rmtree(spool_dir, ignore_errors=True)
