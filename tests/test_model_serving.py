"""Deploying a registered model: ``mlflow models serve -m models:/<name>/1`` against the
collector answers predictions (the seeds' flow: log a model with runlog, register it from the
run, serve it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from collector_process import free_port

import runlog

mlflow = pytest.importorskip("mlflow")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_env"), pytest.mark.timeout(300)]
START_TIMEOUT_S = 240.0


@contextmanager
def serving(model_uri: str, tracking_uri: str, log: Path) -> Iterator[str]:
    """Run ``mlflow models serve`` (local env: this interpreter's packages); yield its URL.

    MLflow starts the scoring server as ``uvicorn`` from PATH, so the interpreter's
    ``bin`` folder goes first, as an activated virtual environment would put it.
    """
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", model_uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def predict(url: str, rows: list[list[float]], log: Path) -> Any:
    """POST /invocations once the server is up (it downloads the model first)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            answer = httpx.post(f"{url}/invocations", json={"inputs": rows}, timeout=30)
            return answer.raise_for_status().json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow models serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)


def test_serve_a_model_registered_from_a_runlog_run(collector: Any, tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 3.0], [3.0, 5.0]])
    fitted = LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 1.0)
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(fitted, str(folder), pip_requirements=["scikit-learn"])
    name = f"served-{uuid.uuid4().hex[:8]}"
    with runlog.start_run("serving", workspace=runlog.Workspace(collector.endpoint)) as run:
        run.upload_folder("outputs/model", folder)
        version = run.register_model(name, "outputs/model")

    log = tmp_path / "serve.log"
    rows = [[4.0, 1.0], [0.5, 2.5]]
    with serving(version.url, collector.endpoint, log) as url:
        answer = predict(url, rows, log)

    assert {"predictions": pytest.approx(fitted.predict(np.array(rows)).tolist())} == answer
