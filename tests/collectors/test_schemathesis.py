"""Schemathesis over the collector's own ``/openapi.json``: no 5xx, no hang, bounded memory.

Every operation of the schema gets generated requests (valid and invalid) against a real
collector process that requires a token; examples are bounded so CI stays fast.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from collector_process import Collector, run_collector
from hypothesis import HealthCheck, settings

from collectors.app import create_app
from collectors.compute import build_service
from collectors.settings import Settings
from collectors.store import LocalFileStore, SQLStore
from collectors.writer import Writer

schemathesis = pytest.importorskip("schemathesis")

pytestmark = pytest.mark.slow

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_state: dict[str, int] = {}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    args = ["--max-body-mb", "4", "--max-file-mb", "4", "--no-grpc"]
    with run_collector(data_dir, args, token=TOKEN) as collector:
        _state["rss_before"] = psutil.Process(collector.process.pid).memory_info().rss
        yield collector


def openapi_document() -> dict[str, Any]:
    """The schema the collector serves at ``/openapi.json``, compute routes included (built
    in-process, at import, because schemathesis parametrizes at collection time)."""
    store = SQLStore("sqlite://")
    try:
        with tempfile.TemporaryDirectory() as data:
            files, writer = LocalFileStore(data), Writer(store)
            settings = Settings(data_dir=Path(data))
            compute = build_service(store, files, writer, settings)
            return create_app(store, files, writer, settings, compute=compute).openapi()
    finally:
        store.close()


schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")
schemathesis.serializer.alias("application/zip", "application/octet-stream")
schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_served_schema_is_the_one_tested(target: Collector) -> None:
    with target.client() as client:
        assert openapi_document() == client.get("/openapi.json", headers=AUTH).json()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: Any, target: Collector) -> None:
    response = case.call(base_url=target.endpoint, headers=AUTH, timeout=30)

    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])


def test_memory_stayed_bounded_and_the_collector_is_alive(target: Collector) -> None:
    """Runs after the operations above (file order): the same process, still well."""
    grown = psutil.Process(target.process.pid).memory_info().rss - _state["rss_before"]

    with target.client() as client:
        assert 200 == client.get("/healthz").status_code
    assert grown < 200 * 1024 * 1024, f"RSS grew by {grown / 1e6:.0f} MB"
    assert "Traceback" not in target.log(), target.log()[-3000:]
