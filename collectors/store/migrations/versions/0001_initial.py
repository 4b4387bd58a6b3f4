"""Initial schema: experiments, runs, key/value tables, metric summaries and chunks, files.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key_value_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("parent_id", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("end_ns", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_ns"])
    op.create_index("ix_runs_start", "runs", ["start_ns"])
    op.create_index("ix_runs_parent", "runs", ["parent_id"])
    for name in ("tags", "params", "properties"):
        _key_value_table(name)
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("column", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("dtype", sa.Text, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_dtype", sa.Text, nullable=False),
        sa.Column("last_f8", sa.Double, nullable=True),
        sa.Column("last_bits", sa.BigInteger, nullable=True),
        sa.Column("last_i8", sa.BigInteger, nullable=True),
        sa.Column("last_str", sa.Text, nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("last_time_ns", sa.BigInteger, nullable=False),
        sa.Column("min_value", sa.Double, nullable=True),
        sa.Column("max_value", sa.Double, nullable=True),
        sa.UniqueConstraint("run_id", "name", "column", name="uq_metrics_run_name_column"),
    )
    op.create_index("ix_metrics_name", "metrics", ["name"])
    op.create_table(
        "metric_chunks",
        sa.Column("metric_id", sa.Integer, sa.ForeignKey("metrics.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("dtype", sa.Text, nullable=False),
        # Min/max per 100-point block (chunks.block_summary); before the big blobs so
        # that reading it does not walk their overflow pages. NULL for str chunks.
        sa.Column("summary", sa.LargeBinary, nullable=True),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("times", sa.LargeBinary, nullable=False),
        sa.Column("values", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "files",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Text, primary_key=True),
        sa.Column("applied_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "batches",
        "files",
        "metric_chunks",
        "metrics",
        "properties",
        "params",
        "tags",
        "runs",
        "experiments",
    ):
        op.drop_table(name)
