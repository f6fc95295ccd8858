"""due-date reminders: one row per workflow step and threshold; officials' e-mail addresses

Revision ID: 0015_13b_step_reminders
Revises: 0014_17a_legal_holds
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_13b_step_reminders"
down_revision = "0014_17a_legal_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "step_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["step_id"], ["workflow_steps.id"],
                                name=op.f("fk_step_reminders_step_id_workflow_steps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_reminders")),
        sa.UniqueConstraint("step_id", "threshold", name=op.f("uq_step_reminders_step_id")),
    )


def downgrade() -> None:
    op.drop_table("step_reminders")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")
