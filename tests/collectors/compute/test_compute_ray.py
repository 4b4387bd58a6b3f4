"""Submitted runs on the ray target, against a real local Ray head that these tests start."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from collector_process import Collector, run_collector
from compute_helpers import (
    LIFECYCLE,
    output_lines,
    source,
    statuses,
    wait_ended,
    wait_for,
    wait_status,
)

from runlog import Experiment, ScriptRunConfig, Workspace
from runlog.client import Client
from runlog.exceptions import RunFailedError

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("client_env")]
REPO = Path(__file__).resolve().parents[3]
RAY_START_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray head (one per module), stopped with everything it started."""
    pytest.importorskip("ray.job_submission")
    from collectors.compute.ray import local_head

    # Ray's socket paths must be short: not under pytest's long temporary paths.
    with (
        tempfile.TemporaryDirectory(prefix="rl-ray-", dir="/tmp") as temp,
        local_head(Path(temp)) as address,
    ):
        yield address


@pytest.fixture(scope="module")
def compute(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    data = tmp_path_factory.mktemp("ray") / "data"
    with run_collector(data, ["--ray-address", ray_address, "--max-ray-runs", "1"]) as running:
        yield running


@pytest.fixture
def client(compute: Collector) -> Iterator[Client]:
    with Client(compute.endpoint) as found:
        yield found


def submit(compute: Collector, folder: Path, script: str, *args: Any) -> Any:
    config = ScriptRunConfig(str(folder), script, list(args), compute_target="ray")
    return Experiment(Workspace(compute.endpoint), "ray-tests").submit(config)


def test_seeds_sweep_runs_as_a_ray_job(
    compute: Collector, client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("sklearn")
    run = submit(compute, REPO / "examples" / "submit", "train.py")
    details = run.wait_for_completion(show_output=True, raise_on_error=True)

    printed = capsys.readouterr().out.splitlines()
    assert 21 == len(printed) and printed[-1].startswith("best alpha is 0.40")
    assert printed == output_lines(client, run.id, "stdout")
    assert [*LIFECYCLE, "Completed"] == statuses(client, run.id)
    assert "ray" == details["target"]
    files = [f["path"] for f in client.list_files(run.id)]
    assert 20 == len([f for f in files if f.startswith("outputs/ridge_")])
    with zipfile.ZipFile(client.download_file(run.id, "snapshot.zip", tmp_path / "s.zip")) as zf:
        assert {"train.py", "mylib.py"} <= set(zf.namelist())
    job_log = [line["message"] for line in run.get_logs() if line["logger"] == "ray.job"]
    assert any("Running entrypoint for job" in line for line in job_log)
    assert run.id == client.get_submission(run.id)["job_id"]


def test_failing_script_fails_the_ray_job_and_the_run(
    compute: Collector, client: Client, tmp_path: Path
) -> None:
    folder = source(tmp_path / "src", {"fail.py": "raise ValueError('bad input on ray')\n"})
    run = submit(compute, folder, "fail.py")

    with pytest.raises(RunFailedError, match="bad input on ray"):
        run.wait_for_completion()
    assert "Failed" == statuses(client, run.id)[-1]


def test_cancel_on_ray_running_and_queued(
    compute: Collector, client: Client, tmp_path: Path
) -> None:
    folder = source(
        tmp_path / "src",
        {"sleep.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(300)\n"},
    )
    running = submit(compute, folder, "sleep.py")
    queued = submit(compute, folder, "sleep.py")  # --max-ray-runs 1: it waits
    wait_for(lambda: output_lines(client, running.id), timeout=120, what="the job's output")
    assert "Queued" == queued.get_status()

    queued.cancel()
    running.cancel()

    assert "Canceled" == wait_ended(client, running.id, timeout=60)
    assert ["NotStarted", "Queued", "Canceled"] == statuses(client, queued.id)
    assert "Running" in statuses(client, running.id)
    assert ["sleeping"] == output_lines(client, running.id)


def test_arguments_reach_the_ray_job_unchanged(
    compute: Collector, client: Client, tmp_path: Path
) -> None:
    folder = source(
        tmp_path / "src", {"argv.py": "import sys, json\nprint(json.dumps(sys.argv[1:]))\n"}
    )
    args = ["two words", "it's", 'say "hi"', "$HOME"]
    run = submit(compute, folder, "argv.py", *args)
    run.wait_for_completion()
    import json

    assert args == json.loads(output_lines(client, run.id, "stdout")[0])
    wait_status(client, run.id, {"Completed"})
