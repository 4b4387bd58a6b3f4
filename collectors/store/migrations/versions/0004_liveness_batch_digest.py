"""Liveness of runs and content digests of batches.

``runs.last_seen_ns`` is when the collector last received anything of the run;
``runs.liveness`` says whether the collector watches it for silence: NULL (its producer
never sent a heartbeat, so it is not watched), ``watched`` (heartbeats arrive), or ``lost``
(the collector failed it after a long silence; data arriving again reopens it).
``batches.digest`` is a 128-bit digest of the request that carried the batch id, so that a batch
id reused for different content is refused instead of silently skipped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("last_seen_ns", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("liveness", sa.Text, nullable=True))
        batch.create_index("ix_runs_liveness", ["liveness"])
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("digest", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("digest")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_liveness")
        batch.drop_column("liveness")
        batch.drop_column("last_seen_ns")
