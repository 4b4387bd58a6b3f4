"""Submitted runs: status history, snapshots and the persistent queue of compute targets.

``run_statuses`` keeps every status change of every run with its time; ``snapshots`` the
source folders kept once per content digest; ``submissions`` one row per submitted run
(target, snapshot, script, arguments, environment, queue state, process or job id).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_statuses",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("time_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("digest", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("collector", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("snapshot", sa.Text, sa.ForeignKey("snapshots.digest"), nullable=False),
        sa.Column("script", sa.Text, nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("queued_ns", sa.BigInteger, nullable=False),
        sa.Column("claimed_ns", sa.BigInteger, nullable=True),
        sa.Column("cancel_ns", sa.BigInteger, nullable=True),
        sa.Column("done_ns", sa.BigInteger, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("pid_start", sa.BigInteger, nullable=True),
        sa.Column("job_id", sa.Text, nullable=True),
        sa.Column("log_offset", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_submissions_queue", "submissions", ["collector", "target", "state", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_queue", table_name="submissions")
    op.drop_table("submissions")
    op.drop_table("snapshots")
    op.drop_table("run_statuses")
