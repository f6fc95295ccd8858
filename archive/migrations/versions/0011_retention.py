"""retention: when each stored record's object-lock period ends (stored_objects.retained_until, retention_mode)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stored_objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retained_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retention_mode", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_stored_objects_retained_until"), ["retained_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_objects_retained_until"))
        batch_op.drop_column("retention_mode")
        batch_op.drop_column("retained_until")
