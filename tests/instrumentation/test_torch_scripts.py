"""PyTorch scripts recorded with no logging code: ``autolog()`` and ``runlog run``.

Each script runs as its own process against the real collector; the assertions are on what
the collector stored once the process has exited (the last losses are read back at exit).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runlog
from runlog import conventions as c
from runlog.client import Client

pytest.importorskip("torch")
pytestmark = [pytest.mark.usefixtures("client_env"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
_numbers = itertools.count()

TRAIN = """\
import json, os
import torch
from torch.utils.data import DataLoader, TensorDataset
{setup}
torch.manual_seed(0)
x = torch.randn(40, 4)
y = x.sum(dim=1, keepdim=True)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
criterion = torch.nn.MSELoss()
losses = []
for epoch in range(3):
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True):
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
os.makedirs("outputs", exist_ok=True)
torch.save(model.state_dict(), "outputs/model.pt")
print(json.dumps(losses))
"""


def run_python(args: list[str], collector: Any, experiment: str, cwd: Path) -> list[float]:
    """Run a Python command in *cwd*; returns the losses the script printed last."""
    losses: list[float] = json.loads(run_output(args, collector, experiment, cwd)[-1])
    return losses


def run_output(args: list[str], collector: Any, experiment: str, cwd: Path) -> list[str]:
    """Run a Python command in *cwd*; returns the lines it printed."""
    env = {
        **os.environ,
        c.ENV_ENDPOINT: collector.endpoint,
        c.ENV_EXPERIMENT: experiment,
        c.ENV_SPOOL_DIR: str(cwd / "spool"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    for name in (c.ENV_RUN_ID, "OTEL_RESOURCE_ATTRIBUTES"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert 0 == done.returncode, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip().splitlines()


def the_run(collector: Any, experiment: str) -> runlog.Run:
    [run] = runlog.Experiment(runlog.Workspace(collector.endpoint), experiment).get_runs()
    return run


def assert_recorded(collector: Any, run: runlog.Run, losses: list[float], tmp: Path) -> None:
    loss = Client(collector.endpoint).get_metric(run.id, "loss")
    assert (list(range(1, 10)), losses) == (loss.steps, loss.values)
    metrics = run.get_metrics()
    assert ([1, 2, 3], 9) == (metrics["epoch"], metrics["optimizer_steps"])
    assert "Completed" == run.get_status()
    downloaded = run.download_file("outputs/model.pt", str(tmp / "downloaded.pt"))
    assert (tmp / "outputs" / "model.pt").read_bytes() == Path(downloaded).read_bytes()


def test_script_with_autolog(collector: Any, tmp_path: Path) -> None:
    experiment = f"torch-autolog-{os.getpid()}-{next(_numbers)}"
    setup = "import runlog\nrunlog.autolog(sklearn=False, logging=False)"
    (tmp_path / "train.py").write_text(TRAIN.format(setup=setup))
    losses = run_python(["train.py"], collector, experiment, tmp_path)
    run = the_run(collector, experiment)
    assert "Sequential" == run.get_details()["displayName"]
    assert_recorded(collector, run, losses, tmp_path)


def test_unchanged_script_under_runlog_run(collector: Any, tmp_path: Path) -> None:
    from runlog import cli

    if "run" not in cli.cli.commands:  # pragma: no cover (the launcher is another change)
        pytest.skip("runlog run is not available")
    experiment = f"torch-run-{os.getpid()}-{next(_numbers)}"
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAIN.format(setup="")))
    command = ["-m", "runlog.cli", "run", "-e", experiment, "--", sys.executable, "train.py"]
    losses = run_python(command, collector, experiment, tmp_path)
    assert_recorded(collector, the_run(collector, experiment), losses, tmp_path)


def test_example_torch_mlp_under_runlog_run(collector: Any, tmp_path: Path) -> None:
    experiment = f"torch-example-{os.getpid()}-{next(_numbers)}"
    script = str(REPO / "examples" / "autolog" / "torch_mlp.py")
    command = ["-m", "runlog.cli", "run", "-e", experiment, "--", sys.executable, script]
    printed = run_output(command, collector, experiment, tmp_path)
    val_mse = [float(line.rsplit(" ", 1)[1]) for line in printed if line.startswith("epoch")]
    run = the_run(collector, experiment)
    client = Client(collector.endpoint)
    assert 40 == len(client.get_metric(run.id, "loss"))  # 5 epochs x 8 batches
    lr = client.get_metric(run.id, "lr")
    assert ([1, 17, 33], [0.01, 0.005, 0.0025]) == (lr.steps, lr.values)
    mse = client.get_metric(run.id, "val/mse")
    assert [0, 1, 2, 3, 4] == mse.steps
    assert val_mse == pytest.approx(mse.values, abs=5e-5)  # printed with 4 decimals
    metrics = run.get_metrics()
    assert ([1, 2, 3, 4, 5], 40) == (metrics["epoch"], metrics["optimizer_steps"])
    params = run.get_params()
    assert ("Sequential", "321", "Adam", "MSELoss") == tuple(
        params[k] for k in ("model_class", "model_parameters", "optimizer", "loss_function")
    )
    assert "outputs/model.pt" in run.get_file_names()
    assert "Completed" == run.get_status()
