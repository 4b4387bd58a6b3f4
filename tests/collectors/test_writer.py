"""collectors.writer: group commits, per-list failure, backpressure, draining on stop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from collectors.ops import Applied, EnsureRun, Op, SetTag
from collectors.store import SQLStore, open_store
from collectors.writer import Writer, WriterBusyError, WriterStoppedError, caused_by_input


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
    writer = Writer(store)  # type: ignore[arg-type]  # a counting wrapper, not a whole Store
    futures = [writer.submit(tagged(f"r{i}")) for i in range(50)]
    writer.start()

    results = [f.result(10) for f in futures]
    writer.stop()

    assert [Applied()] * 50 == results
    assert [50] == store.calls
    assert {"k": "v"} == store.store.get_run("r49").tags  # type: ignore[union-attr]  # r49 exists


def test_a_failing_list_fails_only_its_own_future(store: CountingStore) -> None:
    writer = Writer(store)  # type: ignore[arg-type]  # a counting wrapper, not a whole Store
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
    writer = Writer(store)  # type: ignore[arg-type]  # a counting wrapper, not a whole Store
    writer.start()
    futures = [writer.submit(tagged(f"r{i}")) for i in range(20)]

    writer.stop()

    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(WriterStoppedError):
        writer.submit(tagged("late"))


def test_an_empty_list_resolves_at_once(store: CountingStore) -> None:
    # a counting wrapper, not a whole Store
    assert Applied() == Writer(store).submit([]).result(0)  # type: ignore[arg-type]  # see above
    assert [] == store.calls


def _raised_by_the_store(ops: list[Op], tmp_path: Path) -> BaseException:
    real = open_store(tmp_path / "poison.db")
    try:
        real.apply([ops])
    except Exception as exc:
        return exc
    finally:
        real.close()
    raise AssertionError("the store took it")


def test_a_value_the_database_cannot_hold_is_caused_by_input(tmp_path: Path) -> None:
    past_int64 = EnsureRun("r1", "E", 2**63)

    assert caused_by_input(_raised_by_the_store([past_int64], tmp_path))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OverflowError("Python int too large to convert to SQLite INTEGER"), True),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True),
        (sa.exc.DataError("INSERT", {}, ValueError("NUL")), True),
        (sa.exc.StatementError("bind", "INSERT", {}, TypeError("bad type")), True),
        (sa.exc.OperationalError("INSERT", {}, RuntimeError("database is locked")), False),
        (sa.exc.IntegrityError("INSERT", {}, RuntimeError("duplicate key")), False),
        (OSError("disk I/O error"), False),
        (RuntimeError("database is on fire"), False),
    ],
)
def test_caused_by_input_tells_poison_from_trouble(exc: BaseException, expected: bool) -> None:
    assert expected == caused_by_input(exc)
