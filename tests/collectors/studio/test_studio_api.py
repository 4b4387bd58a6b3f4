"""The studio's routes in-process: the page, its static files, table, tag edits, tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from collectors.app import create_app
from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    CreateExperiment,
    EnsureRun,
    LogLine,
    MarkBatch,
    SetParam,
    SetStatus,
)
from collectors.settings import Settings
from collectors.store import LocalFileStore, open_store
from collectors.studio.events import EventHub
from collectors.writer import Writer

TOKEN = "s3cret-token"


def make_client(tmp_path: Path, **settings: Any) -> Iterator[tuple[TestClient, Writer]]:
    store = open_store(tmp_path / "runlog.db")
    writer = Writer(store)
    writer.start()
    app = create_app(
        store, LocalFileStore(tmp_path / "files"), writer, replace(Settings(), **settings)
    )
    try:
        with TestClient(app, base_url="http://127.0.0.1:4318") as client:
            yield client, writer
    finally:
        writer.stop()
        store.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Writer]]:
    yield from make_client(tmp_path)


def commit(writer: Writer, ops: list[Any]) -> None:
    applied = writer.submit(ops).result(10)
    assert [] == applied.errors


def sweep(writer: Writer) -> None:
    ops: list[Any] = []
    for i in range(3):
        run = f"run-{i}"
        step = np.array([0], dtype=np.int64)
        ops += [EnsureRun(run, "sweep", 10 + i, name=f"a{i}"), SetParam(run, "alpha", str(i))]
        ops.append(AppendPoints(run, "mse", "scalar", "f8", step, step + 1, np.array([9.0 - i])))
    ops += [EnsureRun("kid", "sweep", 50, parent_id="run-0"), SetStatus("run-2", "Completed", 99)]
    commit(writer, ops)


def test_the_page_is_served_at_the_root_with_a_strict_policy(app: Any) -> None:
    client, _ = app
    page = client.get("/")

    assert 200 == page.status_code
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "nosniff" == page.headers["x-content-type-options"]
    assert '<script type="module" src="/studio/static/js/main.js">' in page.text


def test_static_files_come_from_the_package_with_the_same_headers(app: Any) -> None:
    client, _ = app
    script = client.get("/studio/static/js/pages/run.js")

    assert 200 == script.status_code
    assert "javascript" in script.headers["content-type"]
    assert "default-src 'self'" in script.headers["content-security-policy"]
    assert 404 == client.get("/studio/static/../app.py").status_code


def test_the_table_is_columns_of_the_experiment(app: Any) -> None:
    client, writer = app
    sweep(writer)

    body = client.get("/api/v1/studio/table", params={"experiment": "sweep"}).json()
    top = client.get("/api/v1/studio/table", params={"experiment": "sweep", "children": "false"})

    assert ["kid", "run-2", "run-1", "run-0"] == body["run_ids"]
    assert {"alpha": [None, "2", "1", "0"]} == body["params"]
    assert {"mse": [None, 7.0, 8.0, 9.0]} == body["metrics"]
    assert ["run-2", "run-1", "run-0"] == top.json()["run_ids"]


def test_a_malformed_filter_says_what_is_wrong(app: Any) -> None:
    client, writer = app
    sweep(writer)

    answer = client.get("/api/v1/studio/table", params={"filter": "metrics.mse <"})

    assert 400 == answer.status_code
    assert "expected" in answer.json()["error"]["message"]


def test_experiments_carry_counts_by_status(app: Any) -> None:
    client, writer = app
    sweep(writer)

    [experiment] = client.get("/api/v1/studio/experiments").json()["experiments"]

    assert ("sweep", {"Running": 3, "Completed": 1}) == (
        experiment["name"],
        experiment["status_counts"],
    )


def test_tags_are_set_and_removed_through_the_writer(app: Any) -> None:
    client, writer = app
    sweep(writer)

    first = client.patch("/api/v1/runs/run-1/tags", json={"set": {"keep": "yes", "x": "1"}})
    second = client.patch("/api/v1/runs/run-1/tags", json={"delete": ["x"]})

    assert {"keep": "yes", "x": "1"} == first.json()["tags"]
    assert {"keep": "yes"} == second.json()["tags"]
    assert {"keep": "yes"} == client.get("/api/v1/runs/run-1").json()["tags"]


@pytest.mark.parametrize(
    ("run", "body", "status"),
    [
        ("nope", {"set": {"a": "b"}}, 404),
        ("run-1", {"set": {"": "b"}}, 400),
        ("run-1", {"set": {"a": "b" * 9000}}, 400),
        ("run-1", {}, 400),
        ("run-1", {"set": ["a"]}, 400),
    ],
)
def test_bad_tag_edits_are_refused(app: Any, run: str, body: Any, status: int) -> None:
    client, writer = app
    sweep(writer)

    answer = client.patch(f"/api/v1/runs/{run}/tags", json=body)

    assert status == answer.status_code
    assert answer.json()["error"]["message"]


def test_with_a_token_the_page_is_served_but_the_data_is_not(tmp_path: Path) -> None:
    for client, _ in make_client(tmp_path, token=TOKEN):
        assert 200 == client.get("/").status_code
        assert 200 == client.get("/studio/static/js/main.js").status_code
        assert 401 == client.get("/api/v1/studio/experiments").status_code
        assert 401 == client.get("/api/v1/studio/events").status_code
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert 200 == client.get("/api/v1/studio/experiments", headers=auth).status_code


def test_the_hub_folds_commits_into_one_event_per_flush() -> None:
    async def scenario() -> list[bytes]:
        hub = EventHub(flush_seconds=0.05)
        stream = hub.stream()
        hello = await anext(stream)
        step = np.array([1], dtype=np.int64)
        points = AppendPoints("r1", "loss", "scalar", "f8", step, step, np.array([0.5]))
        line = LogLine(1, 9, "INFO", "train", "hi")
        # the writer's thread calls on_commit; two commits land in one flush
        first = [MarkBatch("batch-1"), EnsureRun("r1", "exp", 1), points]
        await asyncio.to_thread(hub.on_commit, [first])
        await asyncio.to_thread(hub.on_commit, [[AppendLogLines("r2", (line,))]])
        change = await asyncio.wait_for(anext(stream), 5)
        hub.close()
        rest = [chunk async for chunk in stream]
        return [hello, change, *rest]

    hello, change, *rest = asyncio.run(scenario())

    assert b"event: hello" in hello
    name, data = change.decode().strip().split("\n")
    assert "event: change" == name
    assert {
        "runs": {
            "r1": {"what": ["metrics"], "metrics": ["loss"]},
            "r2": {"what": ["logs"], "metrics": []},
        },
        "experiments_of": {"r1": "exp"},
    } == json.loads(data.removeprefix("data: "))
    assert [] == rest


def test_the_hub_says_when_experiments_change() -> None:
    async def scenario() -> bytes:
        hub = EventHub(flush_seconds=0.01)
        stream = hub.stream()
        await anext(stream)
        await asyncio.to_thread(hub.on_commit, [[CreateExperiment("new", 1)]])
        change = await asyncio.wait_for(anext(stream), 5)
        hub.close()
        return change

    data = asyncio.run(scenario()).decode().strip().split("\n")[1]
    assert {"runs": {}, "experiments_of": {}, "experiments": True} == json.loads(
        data.removeprefix("data: ")
    )
