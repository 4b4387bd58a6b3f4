"""MLflow REST: experiment and run lifecycle, experiment tags, run inputs/outputs, models.

Experiments get a lifecycle stage (``active``/``deleted``), an artifact location and a
last-update time; runs a lifecycle stage. ``experiment_tags`` holds experiment tags,
``run_io`` a run's dataset inputs and model outputs (JSON), ``logged_models`` MLflow 3's
logged models (tags and params as JSON objects).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("lifecycle_stage", sa.Text, nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("artifact_location", sa.Text, nullable=True))
        batch.add_column(sa.Column("last_update_ns", sa.BigInteger, nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("lifecycle_stage", sa.Text, nullable=False, server_default="active")
        )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), primary_key=True
        ),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "run_io",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("direction", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.Text, primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("source_run_id", sa.Text, nullable=True),
        sa.Column("model_type", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.Text, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
    )
    op.create_index("ix_logged_models_experiment", "logged_models", ["experiment_id"])


def downgrade() -> None:
    op.drop_index("ix_logged_models_experiment", table_name="logged_models")
    op.drop_table("logged_models")
    op.drop_table("run_io")
    op.drop_table("experiment_tags")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("lifecycle_stage")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("last_update_ns")
        batch.drop_column("artifact_location")
        batch.drop_column("lifecycle_stage")
