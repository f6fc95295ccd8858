"""legal holds on case files: who placed and released each, when and why

Revision ID: 0014_17a_legal_holds
Revises: 0013_13b_idempotency_keys
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_17a_legal_holds"
down_revision = "0013_13b_idempotency_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by_id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by_id", sa.Integer(), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_legal_holds_application_id_applications")),
        sa.ForeignKeyConstraint(["placed_by_id"], ["users.id"], name=op.f("fk_legal_holds_placed_by_id_users")),
        sa.ForeignKeyConstraint(["released_by_id"], ["users.id"], name=op.f("fk_legal_holds_released_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_application_id"), ["application_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_application_id"))
    op.drop_table("legal_holds")
