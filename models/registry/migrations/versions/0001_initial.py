"""Initial registry schema: models, versions, request ids, task metrics, aliases, status history.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "registry_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registry_models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("artifact_path", sa.String(1024), nullable=False),
        sa.Column("staging_path", sa.String(1024)),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("trunk_hash", sa.String(64), nullable=False),
        sa.Column("head_hashes", sa.JSON),
        sa.Column("architecture", sa.String(64), nullable=False),
        sa.Column("tasks", sa.JSON),
        sa.Column("parent_version", sa.Integer),
        sa.Column("alert_ids", sa.JSON),
        sa.Column("training_start", sa.String(64)),
        sa.Column("training_end", sa.String(64)),
        sa.Column("row_counts", sa.JSON),
        sa.Column("description", sa.Text),
        sa.UniqueConstraint("model_id", "version", name="uq_version_per_model"),
    )
    op.create_table(
        "registry_version_requests",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registry_models.id"), primary_key=True),
        sa.Column("request_id", sa.String(256), primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("registry_versions.id"), nullable=False),
    )
    op.create_table(
        "registry_task_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("registry_versions.id"), nullable=False),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", sa.Float),
        sa.UniqueConstraint("version_id", "task", "metric", name="uq_metric"),
    )
    op.create_table(
        "registry_aliases",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registry_models.id"), primary_key=True),
        sa.Column("alias", sa.String(32), primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("registry_versions.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "registry_status_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registry_models.id"), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(32)),
        sa.Column("from_version", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_history_model", "registry_status_history", ["model_id", "id"])


def downgrade() -> None:
    for table in (
        "registry_status_history",
        "registry_aliases",
        "registry_task_metrics",
        "registry_version_requests",
        "registry_versions",
        "registry_models",
    ):
        op.drop_table(table)
