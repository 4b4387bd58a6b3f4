"""Submitted runs on the local target: real scripts, a real collector process, its queue."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from collector_process import Collector, free_port, run_collector
from compute_helpers import (
    LIFECYCLE,
    output_lines,
    source,
    statuses,
    tiny_wheel,
    wait_ended,
    wait_for,
    wait_status,
)

import runlog
from runlog import Environment, Experiment, ScriptRunConfig, Workspace
from runlog.client import Client
from runlog.exceptions import AuthenticationError, InvalidArgumentError, RunFailedError

pytestmark = pytest.mark.usefixtures("client_env")
REPO = Path(__file__).resolve().parents[3]
MAX_RUNNING = 2

BLOCKING = """
    import os, sys, time
    from pathlib import Path
    from runlog import Run
    Run.get_context()
    print("started", sys.argv[1], flush=True)
    Path(sys.argv[1] + ".pid").write_text(str(os.getpid()))
    while not Path(sys.argv[2]).exists():
        time.sleep(0.05)
    print("released", sys.argv[1], flush=True)
"""


@pytest.fixture(scope="module")
def compute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """One collector whose local target runs two runs at a time, cancel grace 2 s."""
    data = tmp_path_factory.mktemp("compute") / "data"
    args = ["--max-local-runs", str(MAX_RUNNING), "--cancel-grace", "2"]
    with run_collector(data, args) as running:
        yield running


@pytest.fixture
def ws(compute: Collector) -> Workspace:
    return Workspace(compute.endpoint)


@pytest.fixture
def client(compute: Collector) -> Iterator[Client]:
    with Client(compute.endpoint) as found:
        yield found


def submit(ws: Workspace, folder: Path, script: str, *args: Any, **kwargs: Any) -> runlog.Run:
    config = ScriptRunConfig(str(folder), script, list(args), **kwargs)
    return Experiment(ws, "compute-tests").submit(config)


# --- output, failure, arguments ---------------------------------------------------------------


def test_output_streams_live_and_equals_the_scripts(
    ws: Workspace, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = source(
        tmp_path / "src",
        {
            "talk.py": """
                import sys
                for i in range(3000):
                    print(f"line {i} " + "x" * (i % 50), flush=i % 100 == 0)
                print("to stderr", file=sys.stderr)
                print("last line")
            """
        },
    )
    expected = [f"line {i} " + "x" * (i % 50) for i in range(3000)] + ["last line"]
    run = submit(ws, folder, "talk.py")
    details = run.wait_for_completion(show_output=True)

    out, err = capsys.readouterr()
    assert expected == out.splitlines()
    assert err.startswith("to stderr\n")
    assert "Completed" == details["status"]
    assert expected == output_lines(client, run.id, "stdout")
    assert [*LIFECYCLE, "Completed"] == [s["status"] for s in details["statusHistory"]]
    assert "0" == details["properties"]["runlog.exit_code"]


def test_failing_script_fails_the_run_with_its_traceback(
    ws: Workspace, client: Client, tmp_path: Path
) -> None:
    folder = source(tmp_path / "src", {"fail.py": "print('before')\n1 / 0\n"})
    run = submit(ws, folder, "fail.py")

    with pytest.raises(RunFailedError) as raised:
        run.wait_for_completion()

    assert "ZeroDivisionError" in str(raised.value)
    assert "Failed" == raised.value.details["status"]
    assert [*LIFECYCLE, "Failed"] == statuses(client, run.id)
    with_logs = run.get_details_with_logs()
    assert "before\n" in with_logs["logFiles"]["std_log.txt"]
    assert "1 / 0" in with_logs["logFiles"]["std_log.txt"]


def test_arguments_with_spaces_and_quotes_arrive_unchanged(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = source(
        tmp_path / "src", {"argv.py": "import sys, json\nprint(json.dumps(sys.argv[1:]))\n"}
    )
    args = ["--name", "two words", "it's", 'say "hi"', "$HOME", "a;b", "", 0.5, 3]
    run = submit(ws, folder, "argv.py", *args)
    run.wait_for_completion(show_output=True)

    assert [str(a) for a in args] == json.loads(capsys.readouterr().out.splitlines()[0])


def test_children_of_a_submitted_run(ws: Workspace, client: Client, tmp_path: Path) -> None:
    folder = source(
        tmp_path / "src",
        {
            "kids.py": """
                from runlog import Run
                run = Run.get_context()
                with run.child_run(name="fold-1") as child:
                    child.log("score", 1.0)
                for i, child in enumerate(run.create_children(count=2)):
                    child.log("score", float(i))
                    child.complete()
            """
        },
    )
    run = submit(ws, folder, "kids.py")
    run.wait_for_completion()

    children = list(run.get_children())
    assert 3 == len(children)
    assert sorted(c.id for c in children) == sorted(run.get_details()["children"])
    assert {"Completed"} == {child.get_status() for child in children}
    assert {run.id} == {child.parent.id for child in children if child.parent}
    mine = Experiment(ws, "compute-tests").get_runs(include_children=True)
    assert {c.id for c in children} <= {r.id for r in mine}
    tops = Experiment(ws, "compute-tests").get_runs()
    assert not {c.id for c in children} & {r.id for r in tops}
    from click.testing import CliRunner

    from runlog.cli import cli

    shown = CliRunner().invoke(cli, ["--endpoint", ws.endpoint, "show", run.id])
    assert 0 == shown.exit_code, shown.output
    assert all(child.id in shown.stdout for child in children)
    assert "Finalizing" in shown.stdout  # the lifecycle table


# --- cancel, the queue and its limit --------------------------------------------------------


def test_limit_runs_n_and_queues_the_rest_and_a_queued_run_cancels(
    ws: Workspace, client: Client, tmp_path: Path
) -> None:
    folder = source(tmp_path / "src", {"block.py": BLOCKING})
    release = tmp_path / "release"
    runs = [
        submit(ws, folder, "block.py", str(tmp_path / f"r{i}"), str(release))
        for i in range(MAX_RUNNING + 2)
    ]
    for run in runs[:MAX_RUNNING]:
        wait_status(client, run.id, {"Running"})
    time.sleep(1.0)  # the queue must hold: nothing else starts while the slots are taken

    assert ["Running"] * MAX_RUNNING + ["Queued"] * 2 == [r.get_status() for r in runs]
    queue = client.list_queue("local")
    mine = {r.id for r in runs}
    assert [None, None, 1, 2] == [q["position"] for q in queue if q["run_id"] in mine]

    runs[-1].cancel()
    assert "Canceled" == runs[-1].get_status()
    release.write_text("go")
    for run in runs[:-1]:
        assert "Completed" == wait_ended(client, run.id)
    assert ["NotStarted", "Queued", "Canceled"] == statuses(client, runs[-1].id)
    assert not (tmp_path / f"r{MAX_RUNNING + 1}.pid").exists()


def test_finished_lists_ended_submissions_newest_first(
    ws: Workspace, compute: Collector, tmp_path: Path
) -> None:
    folder = source(
        tmp_path / "src", {"ok.py": "print('ok')\n", "fail.py": "raise SystemExit(3)\n"}
    )
    ok = submit(ws, folder, "ok.py")
    ok.wait_for_completion()
    failed = submit(ws, folder, "fail.py")
    with pytest.raises(RunFailedError):
        failed.wait_for_completion()

    with compute.client() as http:
        newest = http.get("/api/v1/compute/finished", params={"limit": 2}).json()["runs"]
        one = http.get("/api/v1/compute/finished", params={"target": "local", "limit": 1})
        unknown = http.get("/api/v1/compute/finished", params={"target": "gpu-farm"})
        too_many = http.get("/api/v1/compute/finished", params={"limit": 1001})
        queue = http.get("/api/v1/compute/queue").json()["runs"]

    assert [(failed.id, "Failed", "done"), (ok.id, "Completed", "done")] == [
        (r["run_id"], r["status"], r["state"]) for r in newest
    ]
    assert all(r["queued_ns"] <= r["claimed_ns"] <= r["done_ns"] for r in newest)
    assert [None, None] == [r["position"] for r in newest]
    assert [failed.id] == [r["run_id"] for r in one.json()["runs"]]
    assert 400 == unknown.status_code
    assert "unknown compute target 'gpu-farm'" in unknown.json()["error"]["message"]
    assert 400 == too_many.status_code
    assert "query.limit" in too_many.json()["error"]["message"]
    assert not {ok.id, failed.id} & {r["run_id"] for r in queue}


def test_cancel_stops_the_whole_process_tree(ws: Workspace, client: Client, tmp_path: Path) -> None:
    folder = source(
        tmp_path / "src",
        {
            "tree.py": """
                import subprocess, sys, time
                from pathlib import Path
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
                Path(sys.argv[1]).write_text(str(child.pid))
                print("sleeping", flush=True)
                time.sleep(300)
            """
        },
    )
    pid_file = tmp_path / "grandchild.pid"
    run = submit(ws, folder, "tree.py", str(pid_file))
    wait_for(pid_file.exists, what="the script's child")
    wait_status(client, run.id, {"Running"})

    run.cancel()

    assert "Canceled" == wait_ended(client, run.id, timeout=30)
    grandchild = int(pid_file.read_text())
    wait_for(lambda: not _alive(grandchild), timeout=10, what="the grandchild to be gone")
    assert [*LIFECYCLE, "Canceled"] == statuses(client, run.id)


def test_cancel_kills_a_script_that_ignores_sigterm(
    ws: Workspace, client: Client, tmp_path: Path
) -> None:
    folder = source(
        tmp_path / "src",
        {
            "stubborn.py": """
                import signal, time
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                print("ignoring SIGTERM", flush=True)
                time.sleep(300)
            """
        },
    )
    run = submit(ws, folder, "stubborn.py")
    wait_for(lambda: output_lines(client, run.id), what="the script's first line")
    started = time.monotonic()

    run.cancel()

    assert "Canceled" == wait_ended(client, run.id, timeout=30)
    assert time.monotonic() - started >= 2.0  # the grace period came first
    logs = [line["message"] for line in client.get_logs(run.id)]
    assert any("SIGKILL" in message for message in logs)


def test_a_killed_run_process_fails_the_run_with_a_reason(
    ws: Workspace, client: Client, tmp_path: Path
) -> None:
    folder = source(tmp_path / "src", {"block.py": BLOCKING})
    run = submit(ws, folder, "block.py", str(tmp_path / "k"), str(tmp_path / "never"))
    wait_for((tmp_path / "k.pid").exists, what="the script to start")
    launcher = client.get_submission(run.id)
    pgid = os.getpgid(int((tmp_path / "k.pid").read_text()))

    os.killpg(pgid, signal.SIGKILL)  # the launcher and the script die without a word

    assert "Failed" == wait_ended(client, run.id)
    assert "without reporting a final status" in client.get_run(run.id)["error"]
    assert "local" == launcher["target"]


# --- environments -----------------------------------------------------------------------------


def test_managed_environment_is_built_once_and_reused(
    ws: Workspace, client: Client, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    tiny_wheel(wheels)
    folder = source(
        tmp_path / "src",
        {
            "use.py": """
                import sys, runlogtinypkg
                from runlog import Run
                Run.get_context().log("value", runlogtinypkg.VALUE)
                try:
                    import sklearn
                except ImportError:
                    print("isolated", flush=True)
                print(sys.executable, flush=True)
            """
        },
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--no-index\n--find-links {wheels}\nrunlogtinypkg==1.0\n")
    env = Environment.from_pip_requirements("tiny", requirements)

    first = submit(ws, folder, "use.py", environment=env)
    first.wait_for_completion()
    second = submit(ws, folder, "use.py", environment=env)
    second.wait_for_completion()

    for run in (first, second):
        assert 42 == run.get_metrics().get("value"), run.get_details_with_logs()
    outputs = [output_lines(client, r.id, "stdout") for r in (first, second)]
    assert outputs[0] == outputs[1]
    assert "isolated" == outputs[0][0]
    assert "/envs/" in outputs[0][1]
    built = [line["message"] for line in first.get_logs() if line["logger"] == "runlog.environment"]
    again = [
        line["message"] for line in second.get_logs() if line["logger"] == "runlog.environment"
    ]
    assert any("Successfully installed runlogtinypkg-1.0" in m for m in built)
    assert [m for m in again if "reused" in m] == again and len(again) == 1
    assert ["pip"] != second.get_details()["runDefinition"]["environment"]["pip"]


def test_failed_environment_build_fails_the_run_with_pips_error(
    compute: Collector, ws: Workspace, client: Client, tmp_path: Path
) -> None:
    folder = source(tmp_path / "src", {"ok.py": "print('never')\n"})
    env = Environment("broken")
    env.python.conda_dependencies = runlog.CondaDependencies.create(
        ["--no-index", "runlog-no-such-package==9.9"]
    )
    run = submit(ws, folder, "ok.py", environment=env)

    with pytest.raises(RunFailedError) as raised:
        run.wait_for_completion()

    assert "No matching distribution found for runlog-no-such-package==9.9" in str(raised.value)
    logs = [line["message"] for line in run.get_logs()]
    assert any("No matching distribution" in m for m in logs)
    assert [] == output_lines(client, run.id)
    assert 200 == httpx.get(compute.endpoint + "/healthz").status_code
    after = submit(ws, folder, "ok.py")
    assert "Completed" == after.wait_for_completion()["status"]


# --- bad input ------------------------------------------------------------------------------


def test_missing_script_is_refused_before_anything_is_sent(ws: Workspace, tmp_path: Path) -> None:
    folder = source(tmp_path / "src", {"other.py": "pass\n"})
    with pytest.raises(InvalidArgumentError, match=r"script 'train.py' does not exist"):
        submit(ws, folder, "train.py")
    (folder / ".runlogignore").write_text("other.py\n")
    with pytest.raises(InvalidArgumentError, match=r"excluded by \.gitignore/\.runlogignore"):
        submit(ws, folder, "other.py")


def test_source_directory_over_the_file_limit_is_refused(ws: Workspace, tmp_path: Path) -> None:
    folder = source(tmp_path / "src", {"train.py": "pass\n"})
    (folder / "data").mkdir()
    for i in range(2001):
        (folder / "data" / f"{i}.txt").write_text("x")
    with pytest.raises(InvalidArgumentError, match=r"more than 2,000 files .*data/"):
        submit(ws, folder, "train.py")
    (folder / ".gitignore").write_text("data/\n")
    assert submit(ws, folder, "train.py").wait_for_completion()["status"] == "Completed"


def test_unknown_target_is_refused_with_the_known_ones(ws: Workspace, tmp_path: Path) -> None:
    folder = source(tmp_path / "src", {"train.py": "pass\n"})
    with pytest.raises(InvalidArgumentError, match=r"unknown compute target 'gpu'.*local"):
        submit(ws, folder, "train.py", compute_target="gpu")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../evil.py": b"x"}, "'..' is never allowed"),
        ({f"f{i}": b"" for i in range(2001)}, "2,001 files"),
        ({"a.py": b"x"}, "digest"),
    ],
)
def test_snapshot_upload_checks_paths_limits_and_digest(
    compute: Collector, tmp_path: Path, entries: dict[str, bytes], message: str
) -> None:
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name, data in entries.items():
            out.writestr(name, data)
    url = f"{compute.endpoint}/api/v1/snapshots/{'ab' * 32}"
    answer = httpx.put(url, content=archive.read_bytes())
    assert 400 == answer.status_code
    assert message in answer.json()["error"]["message"]
    assert 404 == httpx.head(url).status_code


# --- the command line ---------------------------------------------------------------------------


def test_cli_submit_wait_queue_targets_cancel_download(
    compute: Collector, client: Client, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from runlog.cli import cli

    folder = source(tmp_path / "src", {"hi.py": "import sys\nprint('hi', sys.argv[1:])\n"})
    cli_runner = CliRunner()
    base = ["--endpoint", compute.endpoint]

    def submit_cli(folder: Path, *words: str) -> Any:
        return cli_runner.invoke(
            cli, [*base, "submit", "-e", "cli-sub", "--source-dir", str(folder), *words]
        )

    done = submit_cli(folder, "--wait", "--", "hi.py", "a b")
    assert 0 == done.exit_code, done.output
    assert "hi ['a b']" in done.stdout

    done = submit_cli(
        source(tmp_path / "bad", {"bad.py": "raise SystemExit(3)\n"}), "--wait", "--", "bad.py"
    )
    assert 1 == done.exit_code
    assert "Failed: the command exited with code 3" in done.stderr

    release = tmp_path / "release"
    blocking = source(tmp_path / "blk", {"block.py": BLOCKING})
    done = submit_cli(blocking, "--", "block.py", str(tmp_path / "c"), str(release))
    run_id = done.stdout.split()[2]
    assert f"runlog logs {run_id} -f" in done.stdout
    wait_status(client, run_id, {"Running"})
    queue = cli_runner.invoke(cli, [*base, "queue", "--target", "local"])
    assert run_id in queue.stdout and "Running" in queue.stdout
    targets = cli_runner.invoke(cli, [*base, "targets"])
    assert "local" in targets.stdout and str(MAX_RUNNING) in targets.stdout
    canceled = cli_runner.invoke(cli, [*base, "cancel", run_id, "--wait"])
    assert f"run {run_id}: Canceled" == canceled.stdout.strip()
    again = cli_runner.invoke(cli, [*base, "cancel", run_id])
    assert 1 == again.exit_code and "already finished" in again.stderr
    out = tmp_path / "snap.zip"
    got = cli_runner.invoke(cli, [*base, "download", run_id, "--snapshot", "-o", str(out)])
    assert 0 == got.exit_code, got.output
    assert ["block.py"] == zipfile.ZipFile(out).namelist()


# --- security -------------------------------------------------------------------------------


def test_compute_routes_are_in_the_openapi_schema(compute: Collector) -> None:
    paths = httpx.get(compute.endpoint + "/openapi.json").json()["paths"]
    for path in (
        "/api/v1/compute/runs",
        "/api/v1/compute/queue",
        "/api/v1/compute/finished",
        "/api/v1/compute/targets",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/statuses",
        "/api/v1/snapshots/{digest}",
    ):
        assert path in paths


def test_submitting_needs_the_token(start_collector: Any, tmp_path: Path) -> None:
    collector = start_collector(token="s3cret")
    folder = source(tmp_path / "src", {"train.py": "print('ok')\n"})
    with pytest.raises(AuthenticationError):
        submit(Workspace(collector.endpoint), folder, "train.py")
    run = submit(Workspace(collector.endpoint, token="s3cret"), folder, "train.py")
    assert "Completed" == run.wait_for_completion()["status"]


def test_local_execution_can_be_switched_off(start_collector: Any, tmp_path: Path) -> None:
    collector = start_collector(args=["--no-local-execution"])
    folder = source(tmp_path / "src", {"train.py": "print('ok')\n"})
    with pytest.raises(InvalidArgumentError, match="--no-local-execution"):
        submit(Workspace(collector.endpoint), folder, "train.py")
    targets = Client(collector.endpoint).list_targets()
    assert ["local"] == [t["name"] for t in targets if t.get("disabled")]


# --- restarts ---------------------------------------------------------------------------------


def test_queue_and_running_run_survive_a_collector_restart(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    folder = source(tmp_path / "src", {"block.py": BLOCKING})
    release = tmp_path / "release"
    args = ["--max-local-runs", "1"]
    with run_collector(data, args, port=port) as first:
        ws = Workspace(first.endpoint)
        runs = [
            submit(ws, folder, "block.py", str(tmp_path / f"r{i}"), str(release)) for i in range(3)
        ]
        wait_for((tmp_path / "r0.pid").exists, what="the first run to start")
    pid = int((tmp_path / "r0.pid").read_text())
    assert _alive(pid)  # the run goes on while the collector is away
    release.write_text("go")
    wait_for(lambda: not _alive(pid), what="the first run to end")

    with run_collector(data, args, port=port) as second, Client(second.endpoint) as client:
        for run in runs:
            assert "Completed" == wait_ended(client, run.id)
            assert [*LIFECYCLE, "Completed"] == statuses(client, run.id)
        # (its stderr may end with runlog's warning that the collector was away)
        assert [f"released {tmp_path / 'r0'}"] == output_lines(client, runs[0].id, "stdout")[-1:]


def test_sigkilled_interactive_script_goes_not_responding_then_failed(
    start_collector: Any, tmp_path: Path
) -> None:
    collector = start_collector(args=["--heartbeat-timeout", "2", "--dead-after", "2"])
    script = (
        source(
            tmp_path,
            {
                "train.py": """
                    import time, runlog
                    run = runlog.start_run("hb")
                    run.flush()  # the collector knows the run before the test asks
                    print(run.id, flush=True)
                    time.sleep(300)
                """
            },
        )
        / "train.py"
    )
    import subprocess

    env = {**os.environ, "RUNLOG_ENDPOINT": collector.endpoint, "RUNLOG_HEARTBEAT_INTERVAL": "0.5"}
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    with Client(collector.endpoint) as client:
        wait_status(client, run_id, {"Running"})
        process.kill()
        process.wait()
        assert "Failed" == wait_ended(client, run_id, timeout=30)
        assert ["Running", "NotResponding", "Failed"] == statuses(client, run_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_the_client_links_carry_runlogs_dependencies() -> None:
    """Found by the distribution's name (runlog-ml), not the import name."""
    from collectors.compute.environments import _client_links

    links = _client_links()
    assert {"runlog", "httpx", "wrapt"} <= links.keys()
