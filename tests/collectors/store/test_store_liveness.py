"""Liveness: signs of life, heartbeats and the sweep of silent runs (SQLite and PostgreSQL).

The store stamps a run's last sign of life with the real clock; each sweep says which "now"
it judges by, so the tests sweep "in the future" instead of waiting.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from collectors.ops import (
    AppendPoints,
    EnsureRun,
    Heartbeat,
    MarkBatch,
    Op,
    SetStatus,
    SweepSilentRuns,
)
from collectors.store import SQLStore
from collectors.store.base import RunInfo
from runlog import conventions as c

S = 1_000_000_000
TIMEOUT, DEAD_AFTER = 60 * S, 600 * S


def heartbeat(run_id: str = "r1") -> list[Op]:
    return [EnsureRun(run_id, "exp", time.time_ns()), Heartbeat(run_id)]


def point(run_id: str = "r1", step: int = 1) -> list[Op]:
    steps = np.array([step], dtype=np.int64)
    values = np.array([0.5])
    return [AppendPoints(run_id, "loss", "scalar", "f8", steps, steps, values)]


def sweep(store: SQLStore, after_s: float, since_ns: int = 0) -> None:
    now = time.time_ns() + int(after_s * S)
    (applied,) = store.apply([[SweepSilentRuns(now, TIMEOUT, DEAD_AFTER, since_ns)]])
    assert [] == applied.errors


def run(store: SQLStore, run_id: str = "r1") -> RunInfo:
    found = store.get_run(run_id)
    assert found is not None
    return found


def test_every_operation_on_a_run_is_a_sign_of_life(store: SQLStore) -> None:
    before = time.time_ns()
    store.apply([heartbeat()])
    first = run(store).last_seen_ns or 0
    store.apply([point()])
    second = run(store).last_seen_ns or 0

    assert before <= first <= second


def test_a_silent_watched_run_becomes_not_responding_then_failed(store: SQLStore) -> None:
    store.apply([heartbeat()])
    last_seen = run(store).last_seen_ns

    sweep(store, after_s=59)
    still = run(store).status
    sweep(store, after_s=61)
    stalled = run(store).status
    sweep(store, after_s=659)
    not_yet = run(store).status
    sweep(store, after_s=661)
    failed = run(store)

    assert [c.STATUS_RUNNING, c.STATUS_NOT_RESPONDING, c.STATUS_NOT_RESPONDING] == [
        still,
        stalled,
        not_yet,
    ]
    assert (c.STATUS_FAILED, last_seen) == (failed.status, failed.end_ns)
    assert "no sign of life from this run's process for 660 s" in (failed.error or "")


def test_a_run_that_never_sent_a_heartbeat_is_not_watched(store: SQLStore) -> None:
    store.apply([[EnsureRun("quiet", "exp", 1), *point("quiet")]])

    sweep(store, after_s=10_000)

    assert c.STATUS_RUNNING == run(store, "quiet").status


def test_data_returns_a_not_responding_run_to_running(store: SQLStore) -> None:
    store.apply([heartbeat()])
    sweep(store, after_s=61)

    store.apply([point()])

    assert (c.STATUS_RUNNING, None) == (run(store).status, run(store).end_ns)


def test_data_reopens_a_run_failed_for_silence_and_its_end_event_ends_it(
    store: SQLStore,
) -> None:
    store.apply([heartbeat()])
    sweep(store, after_s=61)
    sweep(store, after_s=661)

    store.apply([point(step=2)])
    reopened = run(store)
    store.apply([[*point(step=3), SetStatus("r1", c.STATUS_COMPLETED, 42)]])
    ended = run(store)

    assert (c.STATUS_RUNNING, None, None) == (reopened.status, reopened.end_ns, reopened.error)
    assert (c.STATUS_COMPLETED, 42, None) == (ended.status, ended.end_ns, ended.error)


def test_a_replayed_spool_that_ends_the_run_finishes_it_in_one_go(store: SQLStore) -> None:
    store.apply([heartbeat()])
    sweep(store, after_s=661)

    store.apply([[MarkBatch("spooled"), *point(), SetStatus("r1", c.STATUS_COMPLETED, 42)]])

    assert (c.STATUS_COMPLETED, None) == (run(store).status, run(store).error)


@pytest.mark.parametrize("status", [c.STATUS_COMPLETED, c.STATUS_FAILED, c.STATUS_CANCELED])
def test_a_run_its_producer_ended_is_never_reopened(store: SQLStore, status: str) -> None:
    store.apply([[*heartbeat(), SetStatus("r1", status, 42, "theirs")]])

    sweep(store, after_s=10_000)
    store.apply([[*point(), Heartbeat("r1")]])

    assert (status, 42) == (run(store).status, run(store).end_ns)


def test_silence_while_no_collector_listened_does_not_count(store: SQLStore) -> None:
    store.apply([heartbeat()])
    started = time.time_ns() + 1000 * S  # this collector started long after the last sign

    sweep(store, after_s=1059, since_ns=started)
    quiet = run(store).status
    sweep(store, after_s=1061, since_ns=started)
    stalled = run(store).status
    sweep(store, after_s=1659, since_ns=started)
    not_yet = run(store).status

    assert [c.STATUS_RUNNING, c.STATUS_NOT_RESPONDING, c.STATUS_NOT_RESPONDING] == [
        quiet,
        stalled,
        not_yet,
    ]


def test_queued_runs_are_not_judged_by_silence(store: SQLStore) -> None:
    store.apply([[*heartbeat(), SetStatus("r1", c.STATUS_QUEUED, 1)]])

    sweep(store, after_s=10_000)

    assert c.STATUS_QUEUED == run(store).status
