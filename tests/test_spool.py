"""The disk spool: entries are atomic, ordered, claimed once and kept on failure."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runlog._spool import INFLIGHT, STALE_CLAIM_SECONDS, Spool, SpoolFullError, Upload


def test_replay_sends_in_order_and_deletes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for body in (b"one", b"two", b"three"):
        spool.write_logs(body)
    sent: list[bytes] = []
    result = spool.replay(sent.append, lambda u: None)
    assert [b"one", b"two", b"three"] == sent
    assert (3, 0, 0) == (result.sent, result.failed, result.left)
    assert [] == list(tmp_path.iterdir())


def test_failure_keeps_the_entry_and_stops(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write_logs(b"one")
    spool.write_logs(b"two")

    def refuse(body: bytes) -> None:
        raise ConnectionError("down")

    result = spool.replay(refuse, lambda u: None)
    assert (0, 1, 2) == (result.sent, result.failed, result.left)
    assert [b"one", b"two"] == [p.read_bytes() for p in spool.pending()]


def test_uploads_are_copied_at_staging_time(tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    source.write_bytes(b"v1")
    spool = Spool(tmp_path / "spool")
    spool.stage_upload("run-1", "exp", "outputs/model.pkl", source)
    source.write_bytes(b"v2 changed later")
    received: list[tuple[str, str, bytes]] = []

    def send(upload: Upload) -> None:
        received.append((upload.run_id, upload.path, upload.data.read_bytes()))

    spool.replay(lambda b: None, send)
    assert [("run-1", "outputs/model.pkl", b"v1")] == received
    assert [] == list((tmp_path / "spool").iterdir())


def test_a_claimed_entry_is_not_replayed_twice(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    entry = spool.write_logs(b"one")
    os.rename(entry, f"{entry}{INFLIGHT}999999")
    assert [] == spool.pending()


def test_stale_claims_are_taken_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    entry = spool.write_logs(b"one")
    claimed = Path(f"{entry}{INFLIGHT}999999")
    os.rename(entry, claimed)
    old = time.time() - STALE_CLAIM_SECONDS - 10
    os.utime(claimed, (old, old))
    assert [entry] == spool.pending()


def test_full_spool_refuses_loudly(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10)
    spool.write_logs(b"12345")
    with pytest.raises(SpoolFullError, match="runlog sync"):
        spool.write_logs(b"123456")
