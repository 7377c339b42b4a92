"""The sha256 of the feature profile stored with a version (its training rows' features).

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "registry_versions", sa.Column("feature_profile_sha256", sa.String(64), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("registry_versions") as batch:
        batch.drop_column("feature_profile_sha256")
