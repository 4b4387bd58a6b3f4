"""Every route and every gRPC service refuses a request without the token.

The routes are enumerated from the FastAPI app itself and the gRPC services from the table
the server registers them from, so a route or service added later cannot slip through
without the token check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import grpc
import pytest
from app_client import make_client
from collector_process import Collector
from fastapi.testclient import TestClient

from collectors.receive.grpc_server import SERVICES
from collectors.receive.ingest import signal_of

TOKEN = "s3cret"
# Liveness probes carry no token; the studio's page shell holds no data (it asks for the
# token, then every API call it makes carries it).
OPEN_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/health"),  # as `mlflow server` (its auth exempts them too)
    ("GET", "/version"),
    ("GET", "/"),
    ("GET", "/studio"),
}
#: Mounts served without the token: the studio's own CSS and scripts (package files).
OPEN_MOUNTS = {"/studio/static"}
_PARAMETER = re.compile(r"\{(\w+)(:path)?\}")


def concrete(path: str) -> str:
    """A route path with every parameter filled in (``r1``; a ``:path`` one ``a/b.txt``)."""
    return _PARAMETER.sub(lambda m: "a/b.txt" if m.group(2) else "r1", path)


def routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, included routers flattened."""
    app: Any = client.app
    # FastAPI >= 0.16x keeps included routers as lazy entries; older ones list APIRoutes.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    entries = list(flatten(app.routes)) if flatten else list(app.routes)
    endless = [entry.path for entry in entries if not entry.methods]
    assert sorted(OPEN_MOUNTS) == sorted(endless), "a mount escapes this test: add it"
    return [(method, entry.path) for entry in entries if entry.methods for method in entry.methods]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path, token=TOKEN)


def test_every_route_but_healthz_needs_the_token(guarded: TestClient) -> None:
    found = routes(guarded)
    answers = {
        (method, path): guarded.request(method, concrete(path)).status_code
        for method, path in found
    }
    wrong = {
        (method, path): guarded.request(
            method, concrete(path), headers={"Authorization": "Bearer nope"}
        ).status_code
        for method, path in found
    }

    assert len(found) > 100  # OTLP, query, files, MLflow, artifacts, docs: all enumerated
    assert {route: 200 for route in OPEN_ROUTES} == {
        route: status for route, status in answers.items() if route in OPEN_ROUTES
    }
    assert {route: 401 for route in found if route not in OPEN_ROUTES} == {
        route: status for route, status in answers.items() if route not in OPEN_ROUTES
    }
    assert {401} == {status for route, status in wrong.items() if route not in OPEN_ROUTES}


def test_every_grpc_service_needs_the_token(start_collector: Callable[..., Collector]) -> None:
    collector = start_collector(token=TOKEN)
    refused, wrong, accepted = {}, {}, {}
    with grpc.insecure_channel(collector.grpc_address) as channel:
        for service, kind in SERVICES:
            refused[service] = _export(channel, service, kind, [])
            wrong[service] = _export(channel, service, kind, [("authorization", "Bearer no")])
            right = [("authorization", f"Bearer {TOKEN}")]
            accepted[service] = _export(channel, service, kind, right)

    assert 3 == len(SERVICES)
    assert {s: grpc.StatusCode.UNAUTHENTICATED for s, _ in SERVICES} == refused == wrong
    assert {s: grpc.StatusCode.OK for s, _ in SERVICES} == accepted


def _export(
    channel: grpc.Channel, service: str, kind: str, metadata: list[tuple[str, str]]
) -> grpc.StatusCode:
    """The status of an empty export to *service* with *metadata*."""
    signal = signal_of(kind)
    export = channel.unary_unary(
        f"/{service}/Export",
        request_serializer=signal.request.SerializeToString,
        response_deserializer=signal.response.FromString,
    )
    try:
        export(signal.request(), timeout=10, metadata=metadata)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]  # grpc's RpcError is untyped
    return grpc.StatusCode.OK
