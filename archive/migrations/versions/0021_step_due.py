"""each step has its own legal due date: the catalogue's duration per step, the date it falls due

Revision ID: 0021_13b_step_due
Revises: 0020_13a_case_file
Create Date: 2026-12-05 11:50:00

Steps already under way keep what they had: their due date is the application's (``applications.due_at``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_13b_step_due"
down_revision = "0020_13a_case_file"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legal_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_workflow_steps_due_at"), ["due_at"], unique=False)
    op.execute(
        "UPDATE workflow_steps SET due_at = (SELECT applications.due_at FROM applications "
        "WHERE applications.id = workflow_steps.application_id) WHERE activated_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("workflow_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_steps_due_at"))
        batch_op.drop_column("due_at")
        batch_op.drop_column("legal_days")
