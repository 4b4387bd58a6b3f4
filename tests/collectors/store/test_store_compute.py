"""The store's side of submitted runs: status history, the queue's rules, forward-only
lifecycle (on SQLite and, when it answers, PostgreSQL)."""

from __future__ import annotations

from collectors.ops import (
    AddSnapshot,
    AdvanceStatus,
    CancelRun,
    ClaimRun,
    EnsureRun,
    SetStatus,
    SubmitRun,
    UpdateSubmission,
)
from collectors.store import SQLStore

DIGEST = "ab" * 32


def submitted(store: SQLStore, run_id: str = "s1", time_ns: int = 10) -> None:
    store.apply([[AddSnapshot(DIGEST, 5, 1, 1)]])
    op = SubmitRun(
        run_id, "exp", "train.py", "me", "local", DIGEST, "train.py", ("--a", "1"), "{}", time_ns
    )
    assert [[]] == [a.errors for a in store.apply([[op]])]


def history(store: SQLStore, run_id: str) -> list[tuple[str, int]]:
    return [(s.status, s.time_ns) for s in store.status_history(run_id)]


def test_every_run_keeps_its_status_changes(store: SQLStore) -> None:
    store.apply([[EnsureRun("r1", "exp", 5), SetStatus("r1", "Running", 6)]])
    store.apply([[SetStatus("r1", "Completed", 9)]])

    assert [("Running", 5), ("Completed", 9)] == history(store, "r1")


def test_submission_queues_then_claim_takes_it_once(store: SQLStore) -> None:
    submitted(store)
    sub = store.get_submission("s1")
    assert sub is not None
    assert ("Queued", "queued", ["--a", "1"]) == (sub.status, sub.state, sub.arguments)
    assert ["s1"] == [s.run_id for s in store.list_submissions(["queued"], "local", "me")]

    first, second = store.apply([[ClaimRun("s1", 20)], [ClaimRun("s1", 21)]])

    assert [] == first.errors
    assert ["run 's1' is no longer queued"] == second.errors
    assert [("NotStarted", 10), ("Queued", 10), ("Preparing", 20)] == history(store, "s1")


def test_unknown_snapshot_and_taken_run_id_are_refused(store: SQLStore) -> None:
    missing = SubmitRun("s2", "exp", None, "me", "local", "cd" * 32, "t.py", (), "{}", 1)
    [applied] = store.apply([[missing]])
    assert "unknown" in applied.errors[0]
    submitted(store, "s3")
    store.apply([[AddSnapshot(DIGEST, 5, 1, 1)]])
    again = SubmitRun("s3", "exp", None, "me", "local", DIGEST, "t.py", (), "{}", 1)
    assert "already exists" in store.apply([[again]])[0].errors[0]


def test_cancel_of_a_queued_run_ends_it_and_of_an_active_one_marks_it(store: SQLStore) -> None:
    submitted(store, "q")
    submitted(store, "a")
    store.apply([[ClaimRun("a", 11)]])

    store.apply([[CancelRun("q", 12), CancelRun("a", 13)]])

    queued, active = store.get_submission("q"), store.get_submission("a")
    assert queued is not None and active is not None
    assert ("Canceled", "done", 12) == (queued.status, queued.state, queued.cancel_ns)
    assert ("Preparing", "active", 13) == (active.status, active.state, active.cancel_ns)
    assert "already finished" in store.apply([[CancelRun("q", 14)]])[0].errors[0]
    assert "not submitted" in store.apply([[CancelRun("nope", 14)]])[0].errors[0]


def test_lifecycle_only_moves_forward(store: SQLStore) -> None:
    submitted(store)
    store.apply([[ClaimRun("s1", 11), AdvanceStatus("s1", "Running", 12)]])
    store.apply([[AdvanceStatus("s1", "Preparing", 13)]])  # a late Ray PENDING
    store.apply([[AdvanceStatus("s1", "Completed", 14, done=True)]])
    store.apply([[AdvanceStatus("s1", "Failed", 15, "late", done=True)]])

    sub = store.get_submission("s1")
    assert sub is not None and ("Completed", "done") == (sub.status, sub.state)
    assert ["NotStarted", "Queued", "Preparing", "Running", "Completed"] == [
        s for s, _ in history(store, "s1")
    ]


def test_update_submission_keeps_what_it_does_not_name(store: SQLStore) -> None:
    submitted(store)
    store.apply([[UpdateSubmission("s1", pid=42, pid_start=7)]])
    store.apply([[UpdateSubmission("s1", log_offset=100)]])

    sub = store.get_submission("s1")
    assert sub is not None and (42, 7, 100, None) == (
        sub.pid,
        sub.pid_start,
        sub.log_offset,
        sub.job_id,
    )
