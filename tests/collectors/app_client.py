"""The collector's app in-process behind a `TestClient` (test helper, used by several files).

The client talks to ``http://127.0.0.1:4318``: the collector answers only loopback Host
names (its guard against DNS rebinding), not the test client's default ``testserver``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from collectors.app import create_app
from collectors.settings import Settings
from collectors.store import LocalFileStore, open_store
from collectors.writer import Writer

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
MAX_BODY = 256 * 1024
BASE_URL = "http://127.0.0.1:4318"


def make_client(tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    """A client of a fresh app on *tmp_path* (limits small, *settings* override)."""
    store = open_store(tmp_path / "runlog.db")
    writer = Writer(store)
    writer.start()
    config = replace(Settings(data_dir=tmp_path, max_body_bytes=MAX_BODY), **settings)
    app = create_app(store, LocalFileStore(tmp_path / "files"), writer, config)
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            yield client
    finally:
        writer.stop()
        store.close()
