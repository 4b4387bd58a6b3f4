"""collectors.writer: group commits, per-list failure, backpressure, draining on stop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from collectors.ops import Applied, EnsureRun, Op, SetTag
from collectors.store import SQLStore, open_store
from collectors.writer import Writer, WriterBusyError, WriterStoppedError


class CountingStore:
    """The real store, counting `apply` calls and failing lists that carry tag ``boom``."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.calls: list[int] = []

    def apply(self, batches: Sequence[Sequence[Op]]) -> list[Applied]:
        self.calls.append(len(batches))
        if any(isinstance(op, SetTag) and op.key == "boom" for ops in batches for op in ops):
            raise RuntimeError("database is on fire")
        return self.store.apply(batches)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    real = open_store(tmp_path / "runlog.db")
    yield CountingStore(real)
    real.close()


def tagged(run_id: str, key: str = "k") -> list[Op]:
    return [EnsureRun(run_id, "E", 1), SetTag(run_id, key, "v")]


def test_waiting_lists_are_committed_in_one_transaction(store: CountingStore) -> None:
    writer = Writer(store)  # type: ignore[arg-type]  # CountingStore forwards the rest
    futures = [writer.submit(tagged(f"r{i}")) for i in range(50)]
    writer.start()

    results = [f.result(10) for f in futures]
    writer.stop()

    assert [Applied()] * 50 == results
    assert [50] == store.calls
    assert {"k": "v"} == store.store.get_run("r49").tags  # type: ignore[union-attr]


def test_a_failing_list_fails_only_its_own_future(store: CountingStore) -> None:
    writer = Writer(store)  # type: ignore[arg-type]
    good, bad, other = (
        writer.submit(tagged(r, k)) for r, k in (("a", "k"), ("b", "boom"), ("c", "k"))
    )
    writer.start()

    assert Applied() == good.result(10)
    assert Applied() == other.result(10)
    with pytest.raises(RuntimeError, match="on fire"):
        bad.result(10)
    writer.stop()
    assert store.store.get_run("a") is not None
    assert store.store.get_run("b") is None


def test_a_full_queue_refuses_with_busy(store: CountingStore) -> None:
    writer = Writer(store, max_queue=2)  # type: ignore[arg-type]  # not started: nothing drains
    writer.submit(tagged("a"))
    writer.submit(tagged("b"))

    with pytest.raises(WriterBusyError, match="retry"):
        writer.submit(tagged("c"))


def test_stop_drains_what_was_queued_then_refuses(store: CountingStore) -> None:
    writer = Writer(store)  # type: ignore[arg-type]
    writer.start()
    futures = [writer.submit(tagged(f"r{i}")) for i in range(20)]

    writer.stop()

    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(WriterStoppedError):
        writer.submit(tagged("late"))


def test_an_empty_list_resolves_at_once(store: CountingStore) -> None:
    assert Applied() == Writer(store).submit([]).result(0)  # type: ignore[arg-type]
    assert [] == store.calls
