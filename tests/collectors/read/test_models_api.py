"""``/api/v1/models``: the registry through runlog's API, its refusals, on a real collector."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from runlog.client import Client

API = "/api/v1/models"


def _name() -> str:
    return f"api-model-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def run_with_files(collector: Any) -> str:
    run_id = f"models-api-{uuid.uuid4().hex[:8]}"
    client = Client(collector.endpoint)
    client.upload_file(run_id, "outputs/model/MLmodel", b"flavors: {}\n")
    client.upload_file(run_id, "outputs/model/weights.bin", b"\x00\x01")
    client.upload_file(run_id, "outputs/other.txt", b"x")
    return run_id


def test_register_lists_and_serves_the_files(collector: Any, run_with_files: str) -> None:
    name = _name()
    api = httpx.Client(base_url=collector.endpoint)
    created = api.post(
        f"{API}/{name}/versions",
        json={"run_id": run_with_files, "path": "outputs/model/", "tags": {"a": "1"}},
    )
    files = api.get(f"{API}/{name}/versions/1/files").json()["files"]
    weights = api.get(f"{API}/{name}/versions/1/files/weights.bin")
    model = api.get(f"{API}/{name}").json()

    assert 201 == created.status_code
    assert {"version": 1, "path": "outputs/model", "run_id": run_with_files} == {
        k: created.json()[k] for k in ("version", "path", "run_id")
    }
    assert ["MLmodel", "weights.bin"] == [f["path"] for f in files]  # not outputs/other.txt
    assert b"\x00\x01" == weights.content
    assert (1, 1, ["outputs/model"]) == (
        model["latest_version"],
        model["version_count"],
        [v["path"] for v in model["versions"]],
    )
    assert name in [m["name"] for m in api.get(API).json()["models"]]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"path": "outputs/model"}, 400, "'run_id' and 'path'"),
        ({"run_id": "x", "path": ""}, 400, "'run_id' and 'path'"),
        ({"run_id": "bad id!", "path": "a"}, 400, "invalid run id"),
        ({"run_id": "never-created-run", "path": "a"}, 404, "does not exist"),
        ({"run_id": "RUN", "path": "outputs/nope"}, 400, "no file or folder 'outputs/nope'"),
        ({"run_id": "RUN", "path": "outputs/model", "tags": ["a"]}, 400, "'tags' must be"),
        ({"run_id": "RUN", "path": "outputs/model", "tags": {"k": 1}}, 400, "string value"),
        ({"run_id": "RUN", "path": "outputs/model", "description": 3}, 400, "'description'"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_register_refuses_bad_requests(
    collector: Any, run_with_files: str, body: Any, status: int, words: str
) -> None:
    if isinstance(body, dict) and body.get("run_id") == "RUN":
        body["run_id"] = run_with_files
    name = _name()
    answer = httpx.post(f"{collector.endpoint}{API}/{name}/versions", json=body)

    assert status == answer.status_code
    assert words in answer.json()["error"]["message"]
    assert 404 == httpx.get(f"{collector.endpoint}{API}/{name}").status_code  # nothing made


def test_unknown_models_versions_and_files_are_404(collector: Any, run_with_files: str) -> None:
    name = _name()
    api = httpx.Client(base_url=collector.endpoint)
    api.post(f"{API}/{name}/versions", json={"run_id": run_with_files, "path": "outputs/other.txt"})

    answers = {
        "model": api.get(f"{API}/nope-{name}"),
        "version": api.get(f"{API}/{name}/versions/7/files"),
        "file": api.get(f"{API}/{name}/versions/1/files/missing.txt"),
        "bad name": api.get(f"{API}/a:b"),
    }
    file_listing = api.get(f"{API}/{name}/versions/1/files").json()["files"]

    assert {"model": 404, "version": 404, "file": 404, "bad name": 400} == {
        k: v.status_code for k, v in answers.items()
    }
    assert ["other.txt"] == [f["path"] for f in file_listing]  # a file registered alone


def test_openapi_documents_the_models_routes(collector: Any) -> None:
    paths = httpx.get(f"{collector.endpoint}/openapi.json").json()["paths"]
    assert {
        f"{API}",
        f"{API}/{{name}}",
        f"{API}/{{name}}/versions",
        f"{API}/{{name}}/versions/{{version}}/files",
    } <= set(paths)
