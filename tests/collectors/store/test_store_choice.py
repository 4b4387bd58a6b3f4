"""Choosing the store: ``--store postgresql://…`` / ``RUNLOG_STORE``, errors at start, and
a database that goes away while the collector runs (503, then recovery)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _otlp_json import point, request
from click.testing import CliRunner
from collector_process import REPO_ROOT, free_port, run_collector
from postgres import HOST, PORT, scratch_schema
from tcp_proxy import TcpProxy

from collectors.settings import Settings
from collectors.store import SchemaOutdatedError, StoreUnavailableError, open_store
from runlog import conventions as c
from runlog.cli import cli

START_TIMEOUT_S = 60


def start_and_wait(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``python -m collectors`` with *args* until it exits (it must fail at start)."""
    command = [sys.executable, "-m", "collectors", "--data-dir", str(tmp_path / "data")]
    command += ["--port", str(free_port()), "--no-grpc", *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.update(env or {})
    return subprocess.run(
        command, capture_output=True, text=True, timeout=START_TIMEOUT_S, env=full_env
    )


@pytest.fixture
def pg_url(pg_database: tuple[Any, str]) -> Iterator[str]:
    """An empty PostgreSQL schema's URL."""
    scratch, database = pg_database
    with scratch_schema(scratch, database) as url:
        yield url


def test_unreachable_database_fails_at_start_with_exit_3(tmp_path: Path) -> None:
    url = f"postgresql://runlog:s3cret@127.0.0.1:{free_port()}/runlog"

    done = start_and_wait(tmp_path, "--store", url)

    assert 3 == done.returncode
    assert "cannot reach the store's database at postgresql://runlog:***@127.0.0.1" in (done.stderr)
    assert "s3cret" not in done.stderr + done.stdout


def test_store_comes_from_runlog_store_env(tmp_path: Path) -> None:
    url = f"postgresql://runlog@127.0.0.1:{free_port()}/runlog"

    done = start_and_wait(tmp_path, env={c.ENV_STORE: url})

    assert 3 == done.returncode
    assert f"127.0.0.1:{url.rsplit(':', 1)[1]}" in done.stderr


def test_not_a_store_url_is_a_usage_error(tmp_path: Path) -> None:
    done = start_and_wait(tmp_path, "--store", "mysql://root@localhost/runlog")

    assert 2 == done.returncode
    assert "unsupported store 'mysql'" in done.stderr


def test_outdated_postgres_schema_is_refused_without_migrate(tmp_path: Path, pg_url: str) -> None:
    done = start_and_wait(tmp_path, "--store", pg_url)

    assert 2 == done.returncode
    assert "runlog db upgrade --store URL" in done.stderr
    with pytest.raises(SchemaOutdatedError, match="an empty database"):
        open_store(pg_url, migrate=False)


def test_sqlite_stays_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(c.ENV_STORE, raising=False)
    settings = Settings(data_dir=tmp_path)

    assert f"sqlite:///{(tmp_path / 'runlog.db').resolve()}" == settings.store_url
    assert settings.migrate_at_start


def test_settings_read_runlog_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """`runlog collector` builds Settings itself: RUNLOG_STORE reaches it too."""
    monkeypatch.setenv(c.ENV_STORE, "postgresql://runlog@db/runlog")

    settings = Settings()

    assert ("postgresql://runlog@db/runlog", False) == (
        settings.store_url,
        settings.migrate_at_start,
    )


def test_open_store_names_an_unreachable_database() -> None:
    with pytest.raises(StoreUnavailableError, match="Is the server running"):
        open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/test")


def test_database_gone_answers_503_then_recovers(tmp_path: Path, pg_url: str) -> None:
    proxy = TcpProxy((HOST, PORT))
    url = pg_url.replace(f"{HOST}:{PORT}", f"127.0.0.1:{proxy.port}")
    with run_collector(tmp_path / "data", ["--store", url, "--migrate"]) as collector:
        logs = f"{collector.endpoint}{c.OTLP_LOGS_PATH}"
        body = request("r-outage", "e", [point("loss", 1.0, step=0)])
        assert 200 == httpx.post(logs, json=body, timeout=30).status_code

        proxy.cut()
        during = httpx.post(logs, json=request("r-outage", "e", [point("loss", 2.0, step=1)]))
        query = httpx.get(f"{collector.endpoint}/api/v1/runs/r-outage", timeout=30)
        proxy.restore()
        after = _post_until_ok(logs, request("r-outage", "e", [point("loss", 3.0, step=2)]))

        assert (503, "1") == (during.status_code, during.headers.get("retry-after"))
        assert 503 == query.status_code
        assert 200 == after.status_code
    store = open_store(pg_url)
    try:
        vector = store.read_metric("r-outage", "loss")
    finally:
        store.close()
    assert vector is not None
    assert [1.0, 3.0] == vector.values.tolist()


def _post_until_ok(url: str, body: dict[str, Any], timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.post(url, json=body, timeout=30)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_runlog_commands_exit_3_when_the_store_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://runlog@127.0.0.1:{free_port()}/runlog"
    monkeypatch.setenv(c.ENV_STORE, url)
    runner = CliRunner()

    upgrade = runner.invoke(cli, ["db", "upgrade"])
    port = str(free_port())
    collector = runner.invoke(
        cli, ["collector", "--data-dir", str(tmp_path), "--port", port, "--no-grpc"]
    )

    assert (3, 3) == (upgrade.exit_code, collector.exit_code), upgrade.output + collector.output
    assert "cannot reach the store's database" in collector.output
