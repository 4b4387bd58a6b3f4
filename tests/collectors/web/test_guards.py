"""Hostile web pages and oversized bodies: Host and Origin checks, simple POSTs, 413s.

In-process through the app; tests/collectors/web/test_guards_browser.py drives a real browser.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from app_client import JSON, PROTOBUF, make_client
from collector_process import Collector
from fastapi.testclient import TestClient
from otlp_builders import logs_request, metric

from runlog import conventions as c

CREATE = "/api/2.0/mlflow/experiments/create"
SAME_ORIGIN = "http://127.0.0.1:4318"
EVIL = "http://evil.example"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path)


def experiments(client: TestClient) -> list[str]:
    return [e["name"] for e in client.get("/api/v1/experiments").json()["experiments"]]


# --- Host (DNS rebinding) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:4318", "127.0.0.1.evil.example", "localhost.evil"]
)
def test_a_foreign_host_name_is_refused_on_loopback(client: TestClient, host: str) -> None:
    response = client.get("/api/v1/runs", headers={"Host": host})

    assert 403 == response.status_code
    assert "FORBIDDEN" == response.json()["error"]["code"]
    assert "DNS rebinding" in response.json()["error"]["message"]


@pytest.mark.parametrize("host", ["localhost:1234", "127.0.0.1", "[::1]:4318", "LOCALHOST:9"])
def test_loopback_host_names_with_any_port_are_answered(client: TestClient, host: str) -> None:
    assert 200 == client.get("/api/v1/runs", headers={"Host": host}).status_code


def test_a_collector_on_a_public_address_with_a_token_answers_any_host(tmp_path: Path) -> None:
    for public in make_client(tmp_path, host="0.0.0.0", token="t0ken"):
        headers = {"Host": "runlog.internal.example:4318", "Authorization": "Bearer t0ken"}
        assert 200 == public.get("/api/v1/runs", headers=headers).status_code


def test_a_foreign_host_gets_the_refusal_in_the_protocol_of_the_path(client: TestClient) -> None:
    otlp = client.post("/v1/logs", content=b"", headers={**PROTOBUF, "Host": "evil.example"})
    mlflow = client.post(CREATE, json={"name": "x"}, headers={"Host": "evil.example"})

    assert (403, 403) == (otlp.status_code, mlflow.status_code)
    assert "BAD_REQUEST" == mlflow.json()["error_code"]
    assert [] == experiments(client)


# --- Origin (cross-site requests) ----------------------------------------------------------------


def test_a_cross_origin_mlflow_write_is_refused(client: TestClient) -> None:
    response = client.post(CREATE, json={"name": "csrf"}, headers={"Origin": EVIL})

    assert 403 == response.status_code
    assert "cross-origin POST" in response.json()["message"]
    assert [] == experiments(client)


def test_a_simple_text_plain_post_is_refused_without_an_origin_too(client: TestClient) -> None:
    body = b'{"name": "csrf"}'
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(CREATE, content=body, headers={"Content-Type": media})
        assert 415 == response.status_code, media
    assert [] == experiments(client)


def test_cross_origin_deletes_uploads_and_otlp_are_refused(client: TestClient) -> None:
    created = client.post(CREATE, json={"name": "kept"}).json()["experiment_id"]
    body = logs_request(metric("m", 1.0), resource={c.RUN_ID: "r-evil"}).SerializeToString()
    foreign = {"Origin": EVIL}

    delete = client.post(
        "/api/2.0/mlflow/experiments/delete",
        json={"experiment_id": created},
        headers={"Origin": EVIL},
    )
    upload = client.put(
        "/api/v1/runs/r-evil/files/x.html", content=b"<p>", headers={"Origin": EVIL}
    )
    otlp = client.post("/v1/logs", content=body, headers={**PROTOBUF, **foreign})

    assert [403, 403, 403] == [r.status_code for r in (delete, upload, otlp)]
    assert ["kept"] == experiments(client)
    assert 404 == client.get("/api/v1/runs/r-evil").status_code


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_write_from_another_site_is_refused_by_sec_fetch_site(
    client: TestClient, site: str
) -> None:
    response = client.post(CREATE, json={"name": "csrf"}, headers={"Sec-Fetch-Site": site})

    assert 403 == response.status_code
    assert [] == experiments(client)


def test_a_same_origin_fetch_from_a_page_of_the_collector_works(client: TestClient) -> None:
    page = {"Origin": SAME_ORIGIN, "Sec-Fetch-Site": "same-origin", **JSON}

    response = client.post(CREATE, json={"name": "studio"}, headers=page)

    assert 200 == response.status_code, response.text
    assert ["studio"] == experiments(client)


def test_cross_origin_reads_are_answered_without_cors_headers(client: TestClient) -> None:
    response = client.get("/api/v1/runs", headers={"Origin": EVIL})

    assert 200 == response.status_code
    assert "access-control-allow-origin" not in response.headers


# --- served user files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["page.html", "image.svg"])
def test_user_files_are_served_as_sandboxed_attachments(client: TestClient, name: str) -> None:
    content = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    client.put(f"/api/v1/runs/r1/files/{name}", content=content)
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]
    run_id = run["info"]["run_id"]
    artifact = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/{name}"
    assert 200 == client.put(artifact, content=content).status_code

    for response in (client.get(f"/api/v1/runs/r1/files/{name}"), client.get(artifact)):
        assert content == response.content
        assert "nosniff" == response.headers["x-content-type-options"]
        assert "sandbox" == response.headers["content-security-policy"]
        assert response.headers["content-disposition"].startswith("attachment;")


# --- body size limits -----------------------------------------------------------------------------


def test_an_mlflow_body_over_the_limit_is_413_before_it_is_read(tmp_path: Path) -> None:
    for small in make_client(tmp_path, max_body_bytes=1000):
        response = small.post(CREATE, content=b" " * 1001, headers=JSON)
        assert 413 == response.status_code
        assert "exceeds the limit of 1000 bytes" in response.json()["message"]


def test_a_streamed_body_over_the_limit_is_413_as_soon_as_it_passes(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for _ in range(100):
            yield b"[" + b" " * 998 + b"]"

    for small in make_client(tmp_path, max_body_bytes=5000):
        response = small.post(CREATE, content=chunks(), headers=JSON)
        assert 413 == response.status_code, response.text
        assert "INVALID_PARAMETER_VALUE" == response.json()["error_code"]


def test_query_and_files_bodies_have_limits_too(tmp_path: Path) -> None:
    for small in make_client(tmp_path, max_body_bytes=1000, max_file_bytes=2000):
        query = small.request("GET", "/api/v1/runs", content=b"x" * 1001)
        small_file = small.put("/api/v1/runs/r1/files/a.bin", content=b"x" * 1500)
        big_file = small.put("/api/v1/runs/r1/files/b.bin", content=b"x" * 2001)
        assert [413, 201, 413] == [query.status_code, small_file.status_code, big_file.status_code]
        assert ["a.bin"] == [f["path"] for f in small.get("/api/v1/runs/r1/files").json()["files"]]


# --- a real process: memory stays bounded --------------------------------------------------------


@pytest.mark.slow
def test_a_gigabyte_mlflow_post_is_413_and_costs_no_memory(collector: Collector) -> None:
    process = psutil.Process(collector.process.pid)
    before = process.memory_info().rss
    url = collector.endpoint + "/api/2.0/mlflow/runs/log-batch"
    port = int(collector.endpoint.rsplit(":", 1)[1])
    head = (
        "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {1 << 30}\r\n\r\n"
    )

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        declared = sock.recv(4096)

    def gigabyte() -> Iterator[bytes]:  # streamed, no Content-Length
        for _ in range(1024):
            yield b" " * (1 << 20)

    streamed = httpx.post(url, content=gigabyte(), headers=JSON, timeout=120)
    grown = process.memory_info().rss - before

    assert declared.startswith(b"HTTP/1.1 413 ")
    assert 413 == streamed.status_code
    assert grown < 100 * 1024 * 1024, f"RSS grew by {grown / 1e6:.0f} MB"
