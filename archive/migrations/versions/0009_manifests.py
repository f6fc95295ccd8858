"""manifests: which state of each application its newest manifest in the archive describes

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manifest_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_applications_manifest_at"), ["manifest_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_manifest_at"))
        batch_op.drop_column("manifest_at")
