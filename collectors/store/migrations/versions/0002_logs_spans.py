"""Log lines and spans: a run's logs (numbered per run) and its timeline.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_lines",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("time_ns", sa.BigInteger, nullable=False),
        sa.Column("level_number", sa.Integer, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("logger", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("exception", sa.Text, nullable=True),
        sa.Column("stream", sa.Text, nullable=True),
    )
    op.create_table(
        "spans",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("trace_id", sa.Text, primary_key=True),
        sa.Column("span_id", sa.Text, primary_key=True),
        sa.Column("parent_span_id", sa.Text, nullable=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("end_ns", sa.BigInteger, nullable=False),
        sa.Column("status_code", sa.Text, nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
    )
    op.create_index("ix_spans_run_start", "spans", ["run_id", "start_ns"])


def downgrade() -> None:
    op.drop_index("ix_spans_run_start", table_name="spans")
    op.drop_table("spans")
    op.drop_table("log_lines")
