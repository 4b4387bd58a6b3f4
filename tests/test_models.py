"""runlog's model registry: `Run.register_model`, `Model`, `runlog models`, and the same
registry seen from MLflow clients (both directions), on a real collector."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow_env import mlflow_at

import runlog
from runlog import conventions as c
from runlog.cli import cli

pytestmark = pytest.mark.usefixtures("client_env")
X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 3.0], [3.0, 5.0]])


def _name(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ws(collector: Any) -> runlog.Workspace:
    return runlog.Workspace(collector.endpoint)


@pytest.fixture
def ml(collector: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mlflow_at(collector.endpoint, monkeypatch) as module:
        yield module


def _sklearn_model_folder(tmp_path: Path) -> tuple[Any, Path]:
    """A fitted LinearRegression saved as an MLflow model folder (what people upload)."""
    mlflow = pytest.importorskip("mlflow")
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(X, X @ np.array([1.0, 2.0]) + 1.0)
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(model, str(folder), pip_requirements=["scikit-learn"])
    return model, folder


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_register_a_run_folder_and_load_it_with_mlflow(
    ws: runlog.Workspace, ml: Any, tmp_path: Path
) -> None:
    """The seeds' flow: log a model, register it from the run, load it as models:/name/1."""
    fitted, folder = _sklearn_model_folder(tmp_path)
    name = _name("diabetes")
    with runlog.start_run("registry", workspace=ws) as run:
        run.upload_folder("outputs/model", folder)
        registered = run.register_model(
            name,
            "outputs/model",
            tags={"stage": "candidate"},
            properties={"mse": "0.01"},
            description="ridge on diabetes",
        )

    loaded = ml.pyfunc.load_model(f"models:/{name}/1")
    version = ml.MlflowClient().get_model_version(name, "1")
    assert (name, 1, run.id, "outputs/model") == (
        registered.name,
        registered.version,
        registered.run_id,
        registered.path,
    )
    assert ({"stage": "candidate"}, {"mse": "0.01"}) == (registered.tags, registered.properties)
    assert f"models:/{name}/1" == registered.url
    assert fitted.predict(X).tolist() == loaded.predict(X).tolist()
    assert ("ridge on diabetes", run.id) == (version.description, version.run_id)
    assert {"stage": "candidate", "mse": "0.01"} == version.tags  # properties shown as tags
    assert f"runs:/{run.id}/outputs/model" == version.source


def test_model_download_and_versions(ws: runlog.Workspace, tmp_path: Path) -> None:
    _, folder = _sklearn_model_folder(tmp_path)
    name = _name("versions")
    with runlog.start_run("registry", workspace=ws) as run:
        run.upload_folder("outputs/model", folder)
        run.upload_file("outputs/notes.txt", b"v2 notes\n")
        run.register_model(name, "outputs/model")
        second = run.register_model(name, "outputs/notes.txt")

    latest = runlog.Model(ws, name)
    first = runlog.Model(ws, name, version=1)
    folder_copy = Path(first.download(tmp_path / "dl"))
    file_copy = Path(latest.download(tmp_path / "dl2"))
    assert (2, 2) == (second.version, latest.version)
    assert (tmp_path / "dl" / "model", tmp_path / "dl2" / "notes.txt") == (folder_copy, file_copy)
    assert _digests(folder) == _digests(folder_copy)
    assert b"v2 notes\n" == file_copy.read_bytes()
    assert [1, 2] == [m.version for m in runlog.Model.list(ws, name)]
    assert 2 == ws.models[name].version
    with pytest.raises(runlog.InvalidArgumentError, match="exist_ok"):
        first.download(tmp_path / "dl")


def test_register_model_refuses_what_the_run_does_not_have(ws: runlog.Workspace) -> None:
    with runlog.start_run("registry", workspace=ws) as run:
        run.upload_file("outputs/a.txt", b"a")
        with pytest.raises(runlog.InvalidArgumentError, match="no file or folder 'outputs/m'"):
            run.register_model(_name("missing"), "outputs/m")
        with pytest.raises(runlog.InvalidArgumentError, match="'/' or ':'"):
            run.register_model("a/b", "outputs/a.txt")
    with pytest.raises(runlog.NotFoundError, match="not registered"):
        runlog.Model(ws, _name("none"))


def test_mlflow_registered_models_are_runlog_models(
    ws: runlog.Workspace, ml: Any, tmp_path: Path
) -> None:
    """A version MLflow registered from a logged model (no run files) is listed and
    downloadable through runlog's API."""
    from sklearn.linear_model import LinearRegression

    name = _name("from-mlflow")
    info = ml.sklearn.log_model(
        LinearRegression().fit(X, X[:, 0]), name="m", pip_requirements=["scikit-learn"]
    )
    ml.register_model(f"models:/{info.model_id}", name)

    model = runlog.Model(ws, name)
    downloaded = Path(model.download(tmp_path / "dl"))
    assert (1, None, f"models:/{info.model_id}") == (model.version, model.run_id, model.source)
    assert "MLmodel" in _digests(downloaded)


def invoke(*args: str, endpoint: str) -> Any:
    env = {c.ENV_ENDPOINT: endpoint, c.ENV_TOKEN: None}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_runlog_models_lists_models_and_versions(
    ws: runlog.Workspace, collector: Any, tmp_path: Path
) -> None:
    name = _name("cli")
    with runlog.start_run("registry", workspace=ws) as run:
        run.upload_file("outputs/model.pkl", b"weights")
        run.register_model(name, "outputs/model.pkl", tags={"team": "vision"})

    listing = invoke("models", endpoint=collector.endpoint)
    versions = invoke("models", name, endpoint=collector.endpoint)
    as_json = invoke("models", name, "--json", endpoint=collector.endpoint)
    missing = invoke("models", "nope-model", endpoint=collector.endpoint)

    assert 0 == listing.exit_code and name in listing.output
    lines = versions.output.splitlines()
    at = next(i for i, line in enumerate(lines) if f"run {run.id}" in line)
    first, second = ([cell.strip() for cell in lines[i].split("│")] for i in (at, at + 1))
    assert ["1", "None", "", f"run {run.id}", "team=vision"] == [first[i] for i in (0, 1, 2, 4, 5)]
    assert "outputs/model.pkl" == second[4]  # the run's path, under its id
    assert [1] == [v["version"] for v in json.loads(as_json.output)["versions"]]
    assert 1 == missing.exit_code and "not registered" in missing.stderr
