"""Log lines and spans in the store: numbering, paging, level filter, upserts (SQLite and PG)."""

from __future__ import annotations

import threading

import pytest

from collectors.ops import AppendLogLines, AppendSpans, EnsureRun, LogLine, MarkBatch, SpanRecord
from collectors.store import SQLStore, open_store
from collectors.store.base import LogLineInfo, SpanInfo


def line(
    message: str,
    level_number: int = 9,
    level: str = "INFO",
    *,
    time_ns: int = 1,
    logger: str = "app",
    exception: str | None = None,
    stream: str | None = None,
) -> LogLine:
    return LogLine(
        time_ns=time_ns,
        level_number=level_number,
        level=level,
        logger=logger,
        message=message,
        exception=exception,
        stream=stream,
    )


def lines(run_id: str, *messages: str) -> AppendLogLines:
    return AppendLogLines(run_id, tuple(line(m) for m in messages))


def span(span_id: str, start: int, name: str = "s", status: str = "UNSET") -> SpanRecord:
    return SpanRecord(
        "ab" * 16, span_id, None, name, "INTERNAL", start, start + 5, status, "", '{"k": 1}'
    )


def messages(store: SQLStore, run_id: str = "r1", **kw: int) -> list[str]:
    return [info.message for info in store.read_logs(run_id, **kw)]


def test_lines_are_numbered_per_run_from_one_across_transactions(store: SQLStore) -> None:
    store.apply([[EnsureRun("r1", "e", 1), lines("r1", "a", "b")], [lines("r2", "x")]])
    store.apply([[lines("r1", "c")], [lines("r1", "d")]])

    assert [1, 2, 3, 4] == [info.seq for info in store.read_logs("r1")]
    assert ["a", "b", "c", "d"] == messages(store)
    assert [1] == [info.seq for info in store.read_logs("r2")]


def test_every_field_of_a_line_is_kept(store: SQLStore) -> None:
    kept = line("boom", 17, "ERROR", time_ns=42, logger="", exception="E: x", stream="stderr")
    store.apply([[AppendLogLines("r1", (kept,))]])

    assert [LogLineInfo(1, 42, 17, "ERROR", "", "boom", "E: x", "stderr")] == store.read_logs("r1")


def test_an_unknown_run_gets_created_by_its_first_line(store: SQLStore) -> None:
    store.apply([[lines("new-run", "hello")]])

    run = store.get_run("new-run")
    assert ("Default", "Running") == (run.experiment, run.status) if run else (None, None)


@pytest.mark.parametrize(
    ("after_seq", "limit", "expected"),
    [(0, 1000, ["a", "b", "c", "d"]), (2, 1000, ["c", "d"]), (1, 2, ["b", "c"]), (4, 10, [])],
)
def test_paging_after_a_seq(
    store: SQLStore, after_seq: int, limit: int, expected: list[str]
) -> None:
    store.apply([[lines("r1", "a", "b", "c", "d")]])

    assert expected == messages(store, after_seq=after_seq, limit=limit)


def test_the_level_filter_keeps_lines_at_or_above(store: SQLStore) -> None:
    levels = [(5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (0, "")]
    op = AppendLogLines("r1", tuple(line(name or "unset", n, name) for n, name in levels))
    store.apply([[op]])

    assert ["WARN", "ERROR"] == messages(store, min_level_number=13)
    assert 5 == len(store.read_logs("r1"))


def test_a_replayed_batch_does_not_repeat_lines(store: SQLStore) -> None:
    ops = [MarkBatch("b1"), lines("r1", "once")]
    store.apply([ops])
    store.apply([ops])

    assert ["once"] == messages(store)


def test_an_invalid_run_id_is_refused(store: SQLStore) -> None:
    (applied,) = store.apply([[lines("bad id", "x")]])

    assert 1 == len(applied.errors)
    assert "invalid run id" in applied.errors[0]


def test_concurrent_writers_never_share_a_seq(store_url: str) -> None:
    """Two stores on one database (two collectors) append to the same run at once."""
    stores = [open_store(store_url) for _ in range(2)]
    stores[0].apply([[EnsureRun("r1", "e", 1)]])

    def write(store: SQLStore, name: str) -> None:
        for i in range(20):
            store.apply([[lines("r1", f"{name}{i}", f"{name}{i}+")]])

    pairs = zip(stores, "ab", strict=True)
    threads = [threading.Thread(target=write, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = stores[0].read_logs("r1", limit=1000)
    for opened in stores:
        opened.close()

    assert list(range(1, 81)) == [info.seq for info in found]
    for name in "ab":  # each writer's lines keep their order
        mine = [info.message for info in found if info.message.startswith(name)]
        assert [f"{name}{i}{s}" for i in range(20) for s in ("", "+")] == mine


def test_many_lines_in_one_commit_are_all_kept(store: SQLStore) -> None:
    """50 ops of 1,000 lines in one transaction (the rate is measured by bench/core.py)."""
    ops = [AppendLogLines("r1", tuple(line(f"line {i}") for i in range(1000))) for _ in range(50)]
    store.apply([ops])

    kept = store.read_logs("r1", after_seq=0, limit=100_000)
    assert 50_000 == len(kept)
    assert list(range(1, 50_001)) == [info.seq for info in kept]


def test_spans_are_listed_by_start_and_replaced_when_sent_again(store: SQLStore) -> None:
    store.apply([[AppendSpans("r1", (span("02", 20), span("01", 10)))]])
    store.apply([[AppendSpans("r1", (span("02", 20, name="again", status="ERROR"),))]])

    expected = [
        SpanInfo("ab" * 16, "01", None, "s", "INTERNAL", 10, 15, "UNSET", "", {"k": 1}),
        SpanInfo("ab" * 16, "02", None, "again", "INTERNAL", 20, 25, "ERROR", "", {"k": 1}),
    ]
    assert expected == store.list_spans("r1")


def test_the_same_span_twice_in_one_transaction_keeps_the_last(store: SQLStore) -> None:
    store.apply([[AppendSpans("r1", (span("01", 10),))], [AppendSpans("r1", (span("01", 11),))]])

    assert [11] == [info.start_ns for info in store.list_spans("r1")]


def test_spans_of_another_run_are_not_listed(store: SQLStore) -> None:
    store.apply([[AppendSpans("r1", (span("01", 10),)), AppendSpans("r2", (span("01", 10),))]])

    assert 1 == len(store.list_spans("r2"))
    assert [] == store.list_spans("unknown")
