"""Logged models first-class, the model registry, the latest-metric rule, input order.

``logged_model_metrics`` and ``logged_model_files`` give MLflow 3 logged models their own
metrics and files (no source run needed). ``registered_models``, ``registered_model_tags``,
``model_versions``, ``model_version_tags`` and ``registered_model_aliases`` hold the model
registry. ``metrics.append_step`` keeps the step of the point appended last (automatic
steps count from it) now that the summary's ``last_*`` columns hold the latest point by
step; ``run_io.seq`` keeps the order in which a run's inputs and outputs were logged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.add_column(
            sa.Column("append_step", sa.BigInteger, nullable=False, server_default="0")
        )
    # Until now the summary's last point was the last one appended.
    op.execute("UPDATE metrics SET append_step = last_step")
    with op.batch_alter_table("run_io") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"))
    _create_logged_model_tables()
    _create_registry_tables()


def _create_logged_model_tables() -> None:
    op.create_table(
        "logged_model_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "model_id", sa.Text, sa.ForeignKey("logged_models.model_id"), nullable=False
        ),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value_bits", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("time_ns", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.Text, nullable=True),
        sa.Column("dataset_name", sa.Text, nullable=True),
        sa.Column("dataset_digest", sa.Text, nullable=True),
    )
    op.create_index("ix_logged_model_metrics_model", "logged_model_metrics", ["model_id"])
    op.create_table(
        "logged_model_files",
        sa.Column(
            "model_id", sa.Text, sa.ForeignKey("logged_models.model_id"), primary_key=True
        ),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )


def _create_registry_tables() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
    )
    model_id = sa.ForeignKey("registered_models.id")
    op.create_table(
        "registered_model_tags",
        sa.Column("registered_model_id", sa.Integer, model_id, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "registered_model_id",
            sa.Integer,
            sa.ForeignKey("registered_models.id"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("user_id", sa.Text, nullable=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("storage_location", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=True),
        sa.Column("run_link", sa.Text, nullable=True),
        sa.Column("logged_model_id", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.Text, nullable=False),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("registered_model_id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["registered_model_id", "version"],
            ["model_versions.registered_model_id", "model_versions.version"],
        ),
    )
    op.create_table(
        "registered_model_aliases",
        sa.Column(
            "registered_model_id",
            sa.Integer,
            sa.ForeignKey("registered_models.id"),
            primary_key=True,
        ),
        sa.Column("alias", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_model_versions_run", table_name="model_versions")
    op.drop_index("ix_logged_model_metrics_model", table_name="logged_model_metrics")
    for table in (
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
        "logged_model_files",
        "logged_model_metrics",
    ):
        op.drop_table(table)
    with op.batch_alter_table("run_io") as batch:
        batch.drop_column("seq")
    with op.batch_alter_table("metrics") as batch:
        batch.drop_column("append_step")
