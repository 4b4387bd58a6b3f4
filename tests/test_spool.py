"""The disk spool: entries are atomic, ordered, claimed once, addressed, checksummed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runlog._config import check_endpoint
from runlog.exceptions import ConfigError
from runlog.spool import (
    INFLIGHT,
    QUARANTINE_DIR,
    ReplayStopped,
    Spool,
    SpoolFullError,
    Upload,
    _owner_gone,  # the liveness rule on its own
    decode_logs_entry,
    listening_accepts,
    same_collector,
)

HERE = "http://127.0.0.1:4318"
THERE = "http://127.0.0.1:5999"


def bodies(spool: Spool) -> list[bytes]:
    return [decode_logs_entry(p.read_bytes())[1] for p in spool.pending()]


def test_replay_sends_in_order_and_deletes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    for body in (b"one", b"two", b"three"):
        spool.write_logs(body)
    sent: list[bytes] = []
    result = spool.replay(sent.append, lambda u: None)
    assert [b"one", b"two", b"three"] == sent
    assert (3, 0, 0) == (result.sent, result.failed, result.left)
    assert [] == list(tmp_path.iterdir())


def test_failure_keeps_the_entry_and_stops(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    spool.write_logs(b"one")
    spool.write_logs(b"two")

    def refuse(body: bytes) -> None:
        raise ConnectionError("down")

    result = spool.replay(refuse, lambda u: None)
    assert (0, 1, 2) == (result.sent, result.failed, result.left)
    assert [b"one", b"two"] == bodies(spool)


def test_a_replay_its_sender_stops_keeps_the_entries_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process handing its data over at exit stops its replay on purpose: the entries
    stay, and "spool replay of ... stopped" is not printed (it was, as noise, at exit)."""
    spool = Spool(tmp_path, destination=HERE)
    spool.write_logs(b"one")
    spool.write_logs(b"two")

    def exiting(body: bytes) -> None:
        raise ReplayStopped("the process is exiting; the entry stays in the spool")

    with caplog.at_level(logging.DEBUG, logger="runlog.internal"):
        result = spool.replay(exiting, lambda u: None)
    assert (0, 1, 2) == (result.sent, result.failed, result.left)
    assert [b"one", b"two"] == bodies(spool)
    assert [] == [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_uploads_keep_the_content_of_the_call(tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    source.write_bytes(b"v1")
    spool = Spool(tmp_path / "spool", destination=HERE)
    upload = spool.stage_upload("run-1", "exp", "outputs/model.pkl", source)
    source.unlink()  # replaced by a new file, as `torch.save` to a temporary and rename does
    source.write_bytes(b"v2 written later")
    received: list[tuple[str, str, bytes]] = []

    def send(upload: Upload) -> None:
        received.append((upload.run_id, upload.path, upload.data.read_bytes()))

    assert spool.replay_one(upload.data, lambda b: None, send)
    assert [("run-1", "outputs/model.pkl", b"v1")] == received
    assert [] == list((tmp_path / "spool").iterdir())


def test_a_claimed_entry_is_not_replayed_twice(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    entry = spool.write_logs(b"one")
    os.rename(entry, f"{entry}{INFLIGHT}{os.getppid()}")  # a live process, older than the claim
    assert [] == spool.pending()


def test_full_spool_refuses_loudly(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=300, destination=HERE)
    spool.write_logs(b"12345")
    with pytest.raises(SpoolFullError, match="runlog sync"):
        spool.write_logs(b"1" * 300)


# --- item 7: each entry knows its collector ----------------------------------------------------


def test_replay_sends_only_the_entries_of_its_own_collector(tmp_path: Path) -> None:
    Spool(tmp_path, destination=THERE).write_logs(b"for there")
    Spool(tmp_path, destination="http://localhost:4318/").write_logs(b"for here")
    sent: list[bytes] = []
    result = Spool(tmp_path, destination=HERE).replay(sent.append, lambda u: None)
    assert [b"for here"] == sent
    assert (1, 0) == (result.sent, result.left)
    assert {THERE: 1} == Spool(tmp_path, check=False).destinations()


def test_uploads_record_their_destination(tmp_path: Path) -> None:
    Spool(tmp_path, destination=THERE).stage_upload("r", "e", "a.txt", b"x")
    received: list[Upload] = []
    assert 0 == Spool(tmp_path, destination=HERE).replay(print, received.append).sent
    assert 1 == Spool(tmp_path, destination=THERE).replay(print, received.append).sent
    assert ["a.txt"] == [u.path for u in received]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://127.0.0.1:4318", "http://localhost:4318/", True),
        ("http://127.0.0.1:4318", "http://[::1]:4318", True),
        ("http://127.0.0.1:80", "http://127.0.0.1", True),
        ("http://127.0.0.1:4318", "http://127.0.0.1:4319", False),
        ("http://127.0.0.1:4318", "https://127.0.0.1:4318", False),
        ("http://host-a:4318", "http://host-b:4318", False),
        ("https://proxy/runlog", "https://proxy/other", False),
    ],
)
def test_same_collector(a: str, b: str, same: bool) -> None:
    assert same == same_collector(a, b)


def test_a_collector_owns_loopback_destinations_of_its_port() -> None:
    accept = listening_accepts("127.0.0.1", 4318)
    assert [True, True, False, False, False] == [
        accept("http://localhost:4318"),
        accept("http://127.0.0.1:4318"),
        accept("http://127.0.0.1:4319"),
        accept("http://example.org:4318"),
        accept(None),  # a first-format entry: only `runlog sync` sends it
    ]


def test_first_format_entries_are_sent_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-1-000001.logs.pb").write_bytes(b"old")
    sent: list[bytes] = []
    assert 0 == Spool(tmp_path, destination=HERE).replay(sent.append, print).sent
    Spool(tmp_path, destination=HERE).replay(sent.append, print, accept=lambda d: d is None)
    assert [b"old"] == sent


# --- item 8: torn and damaged entries are set aside --------------------------------------------


def test_a_torn_logs_entry_is_quarantined_and_the_rest_is_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, destination=HERE)
    torn = spool.write_logs(b"first" * 100)
    spool.write_logs(b"second")
    torn.write_bytes(torn.read_bytes()[:-7])
    sent: list[bytes] = []
    with caplog.at_level(logging.WARNING, "runlog.internal"):
        result = spool.replay(sent.append, print)
    assert [b"second"] == sent
    assert [tmp_path / QUARANTINE_DIR / torn.name] == result.quarantined
    assert (tmp_path / QUARANTINE_DIR / torn.name).exists()
    assert torn.name in caplog.text and "corrupt" in caplog.text


def test_a_flipped_byte_that_still_parses_is_not_sent(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    entry = spool.write_logs(b"value=1.0")
    raw = bytearray(entry.read_bytes())
    raw[-1] = ord("5")  # "value=1.5": same length, still a well-formed body
    entry.write_bytes(bytes(raw))
    sent: list[bytes] = []
    result = spool.replay(sent.append, print)
    assert ([], 1, 0) == (sent, len(result.quarantined), result.sent)


def test_a_torn_upload_header_is_quarantined_with_its_data(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    first = spool.stage_upload("r", "e", "a.txt", b"aaa")
    spool.stage_upload("r", "e", "b.txt", b"bbb")
    meta = first.data.with_name(first.data.name + ".json")
    meta.write_bytes(meta.read_bytes()[:10])
    received: list[str] = []
    result = spool.replay(print, lambda u: received.append(u.path))
    assert ["b.txt"] == received
    assert sorted([first.data.name, meta.name]) == sorted(
        p.name for p in (tmp_path / QUARANTINE_DIR).iterdir()
    )
    assert 1 == len(result.quarantined)


def test_a_damaged_upload_is_not_sent(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    upload = spool.stage_upload("r", "e", "a.txt", b"abc")
    upload.data.write_bytes(b"abd")
    received: list[str] = []
    result = spool.replay(print, lambda u: received.append(u.path))
    assert ([], 1) == (received, len(result.quarantined))


# --- item 9: claims of dead processes are taken back --------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_claim_of_a_dead_process_is_taken_back_at_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination=HERE)
    entry = spool.write_logs(b"one")
    os.rename(entry, f"{entry}{INFLIGHT}{_dead_pid()}")
    assert [entry] == spool.pending()


def test_a_claim_whose_pid_was_reused_is_taken_back() -> None:
    pytest.importorskip("psutil")
    claimed_at = time.time() - 5  # the claim is older than the process that now has the pid
    younger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"])
    try:
        assert (True, False) == (
            _owner_gone(younger.pid, claimed_at),
            _owner_gone(younger.pid, time.time() + 1),  # claimed by that very process
        )
    finally:
        younger.kill()
        younger.wait()


# --- item 10: an unwritable spool does not stop uploads -----------------------------------------


def test_an_unwritable_spool_uploads_directly_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locked = tmp_path / "a-file"  # a spool "under" a file cannot be written, even by root
    locked.write_bytes(b"")
    source = tmp_path / "weights.bin"
    source.write_bytes(b"w" * 1000)
    with caplog.at_level(logging.WARNING, "runlog.internal"):
        spool = Spool(locked / "spool", destination=HERE)
        from_path = spool.stage_upload("r", "e", "weights.bin", source)
        from_bytes = spool.stage_upload("r", "e", "note.txt", b"note")
    assert not spool.writable
    assert "cannot be written" in caplog.text and str(locked / "spool") in caplog.text
    received: list[tuple[str, bytes]] = []

    def send(upload: Upload) -> None:
        received.append((upload.path, upload.data.read_bytes()))

    assert spool.replay_one(from_path.data, print, send)
    assert spool.replay_one(from_bytes.data, print, send)
    assert [("weights.bin", b"w" * 1000), ("note.txt", b"note")] == received
    assert source.exists()  # sent from where it is, never moved
    assert [] == spool.direct_pending()


# --- item 11: endpoints are normalised or refused -----------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:4318/v1/logs", "http://127.0.0.1:4318"),
        ("http://127.0.0.1:4318/v1/traces/", "http://127.0.0.1:4318"),
        ("HTTP://LocalHost:4318/", "http://localhost:4318"),
        ("https://proxy.example/runlog", "https://proxy.example/runlog"),
        ("https://proxy.example/runlog/v1/metrics", "https://proxy.example/runlog"),
    ],
)
def test_endpoints_are_normalised(given: str, expected: str) -> None:
    assert expected == check_endpoint(given)


@pytest.mark.parametrize(
    "given", ["127.0.0.1:4318", "http://", "http://h:4318?x=1", "http://h:99999", "http://u@h"]
)
def test_bad_endpoints_are_refused(given: str) -> None:
    with pytest.raises(ConfigError, match="runlog endpoint"):
        check_endpoint(given)


def test_the_destination_is_the_normalised_endpoint(tmp_path: Path) -> None:
    spool = Spool(tmp_path, destination="http://127.0.0.1:4318/v1/logs")
    spool.write_logs(b"x")
    assert {HERE: 1} == spool.destinations()


# --- item 12: staging a file does not block --------------------------------------------------


def test_staging_a_file_links_it_and_checks_it_in_the_background(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    spool = Spool(tmp_path / "spool", destination=HERE)
    upload = spool.stage_upload("r", "e", "big.bin", source)
    received: list[bytes] = []
    assert spool.replay_one(upload.data, print, lambda u: received.append(u.data.read_bytes()))
    assert [source.read_bytes()] == received


def test_a_file_changed_in_place_after_the_call_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "metrics.csv"
    source.write_bytes(b"a,b\n")
    spool = Spool(tmp_path / "spool", destination=HERE)
    with caplog.at_level(logging.WARNING, "runlog.internal"):
        upload = spool.stage_upload("r", "e", "metrics.csv", source)
        with open(source, "ab") as stream:  # in place: the same inode
            stream.write(b"1,2\n")
        received: list[bytes] = []
        spool.replay_one(upload.data, print, lambda u: received.append(u.data.read_bytes()))
    assert 1 == len(received)
    if received != [b"a,b\n"]:  # hard linked: the change is visible and must be reported
        assert "changed after upload_file()" in caplog.text


def test_without_xxhash_entries_carry_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xxhash", None)  # as in a light client install
    spool = Spool(tmp_path, destination=HERE)
    entry = spool.write_logs(b"body")
    assert decode_logs_entry(entry.read_bytes())[0]["digest"].startswith("sha256:")
    upload = spool.stage_upload("r", "e", "a.txt", b"abc")
    sent: list[bytes] = []
    received: list[str] = []
    assert 2 == spool.replay(sent.append, lambda u: received.append(u.path)).sent
    assert ([b"body"], [upload.path]) == (sent, received)


def test_what_a_dead_writer_left_is_cleared(tmp_path: Path) -> None:
    dead = _dead_pid()
    temporary = tmp_path / f".00000000000000000001-{dead}-000001.logs.tmp"
    temporary.write_bytes(b"half an ent")
    header = tmp_path / f"00000000000000000002-{dead}-000002.upload.json"
    header.write_text('{"run_id": "r", "path": "a.txt"}')
    live_header = tmp_path / f"00000000000000000003-{os.getpid()}-000003.upload.json"
    live_header.write_text('{"run_id": "r", "path": "b.txt"}')  # still being written
    assert [] == Spool(tmp_path, destination=HERE).pending()
    assert not temporary.exists()
    assert (tmp_path / QUARANTINE_DIR / header.name).exists()
    assert live_header.exists()


def test_a_live_writer_keeps_its_hard_linked_temporary(tmp_path: Path) -> None:
    pytest.importorskip("psutil")
    old = tmp_path / "old.bin"
    old.write_bytes(b"x")
    os.utime(old, (1_000_000_000, 1_000_000_000))  # older than any running process
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    linked = spool_dir / f".00000000000000000001-{os.getppid()}-000001.upload.tmp"
    os.link(old, linked)  # as the parent process staging it right now
    Spool(spool_dir, destination=HERE).pending()
    assert linked.exists()


def test_direct_uploads_of_one_file_under_two_names_are_both_sent(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    source = tmp_path / "model.pt"
    source.write_bytes(b"weights")
    spool = Spool(tmp_path / "a-file" / "spool", destination=HERE)
    first = spool.stage_upload("r", "e", "best.pt", source)
    second = spool.stage_upload("r", "e", "last.pt", source)
    received: list[str] = []
    assert spool.replay_one(first.data, print, lambda u: received.append(u.path))
    assert spool.replay_one(second.data, print, lambda u: received.append(u.path))
    assert ["best.pt", "last.pt"] == received


def test_a_direct_upload_whose_file_is_gone_is_reported_and_does_not_block(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    source = tmp_path / "gone.bin"
    source.write_bytes(b"x")
    spool = Spool(tmp_path / "a-file" / "spool", destination=HERE)
    spool.stage_upload("r", "e", "gone.bin", source)
    source.unlink()
    with caplog.at_level(logging.ERROR, "runlog.internal"):
        result = spool.replay(print, print)
    assert (0, 0, []) == (result.sent, result.failed, spool.direct_pending())
    assert "'gone.bin' of run r was NOT uploaded" in caplog.text
