"""Artifacts through the collector's mlflow-artifacts proxy: byte-exact round trips."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from runlog.client import Client

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "outputs"
    (root / "sub").mkdir(parents=True)
    (root / "a.bin").write_bytes(os.urandom(3000))
    (root / "sub" / "b.txt").write_bytes("héllo\n".encode())
    (root / "sub" / "empty").write_bytes(b"")
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_artifacts_round_trip_byte_exactly(
    ml: Any, collector: Any, tree: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    with ml.start_run() as run:
        ml.log_artifacts(str(tree), artifact_path="outputs")
        ml.log_artifact(str(big))
    run_id = run.info.run_id

    downloaded = Path(ml.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "d")))

    expected = {f"outputs/{k}": v for k, v in _files(tree).items()} | {"big.bin": big.read_bytes()}
    assert expected == _files(downloaded)
    stored = Client(collector.endpoint).list_files(run_id)
    assert sorted(expected) == [f["path"] for f in stored]


def test_list_artifacts(ml: Any, collector: Any, tree: Path) -> None:
    client = MlflowClient()
    with ml.start_run() as run:
        ml.log_artifacts(str(tree))
    run_id = run.info.run_id

    root = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)]
    sub = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "sub")]
    old = httpx.get(
        collector.endpoint + "/api/2.0/mlflow/artifacts/list",
        params={"run_id": run_id, "path": "sub"},
    ).json()

    assert [("a.bin", False, 3000), ("sub", True, None)] == root
    # mlflow server leaves file_size out for an empty file (the client reads None), in both
    # the proxy's listing and artifacts/list
    assert [("sub/b.txt", False, 7), ("sub/empty", False, None)] == sub
    b_txt, empty = {"path": "sub/b.txt", "is_dir": False, "file_size": 7}, {"path": "sub/empty"}
    assert [b_txt, empty | {"is_dir": False}] == old["files"]
    assert old["root_uri"].endswith(f"/{run_id}/artifacts")


def test_single_file_download(ml: Any, tree: Path, tmp_path: Path) -> None:
    with ml.start_run() as run:
        ml.log_artifacts(str(tree))

    path = ml.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="sub/b.txt", dst_path=str(tmp_path / "one")
    )

    assert "héllo\n".encode() == Path(path).read_bytes()


@pytest.mark.parametrize(
    ("method", "tail", "status", "code"),
    [
        ("PUT", "0/{run}/artifacts/../escape.txt", 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "0/{run}/artifacts/missing.txt", 404, "RESOURCE_DOES_NOT_EXIST"),
        (
            "PUT",
            "0/ffffffffffffffffffffffffffffffff/artifacts/x.txt",
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        ("GET", "not-a-run-path", 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_bad_artifact_requests(
    ml: Any, collector: Any, method: str, tail: str, status: int, code: str
) -> None:
    run_id = MlflowClient().create_run("0").info.run_id
    url = f"{collector.endpoint}/api/2.0/mlflow-artifacts/artifacts/{tail.format(run=run_id)}"

    response = httpx.request(method, url, content=b"x" if method == "PUT" else None)

    assert (status, code) == (response.status_code, response.json()["error_code"])
