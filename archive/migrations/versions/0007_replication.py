"""replication and fixity: the ledger of stored objects and the record of every fixity check

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-23 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_objects",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replicated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_result", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_stored_objects")),
    )
    with op.batch_alter_table("stored_objects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_objects_replicated_at"), ["replicated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_stored_objects_checked_at"), ["checked_at"], unique=False)
    op.create_table(
        "fixity_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixity_checks")),
    )
    with op.batch_alter_table("fixity_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fixity_checks_key"), ["key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fixity_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fixity_checks_key"))
    op.drop_table("fixity_checks")
    with op.batch_alter_table("stored_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_objects_checked_at"))
        batch_op.drop_index(batch_op.f("ix_stored_objects_replicated_at"))
    op.drop_table("stored_objects")
