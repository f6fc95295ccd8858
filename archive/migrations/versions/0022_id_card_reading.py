"""the ID card check is three-valued and honest: the number lines read by shape, and "unreadable" instead of "unread"

Revision ID: 0022_13c_id_card_reading
Revises: 0021_13b_step_due
Create Date: 2026-12-05 12:20:00

``pages.number_readings`` keeps the second, shape-based reading of an ID card's number lines (``ocr.digit_shapes``);
``documents.id_digits`` widens to keep what was read when it is not a 14-digit number. Old ``unread`` verdicts become
``unreadable``; earlier ``mismatch`` verdicts are left as they were (their pages are not read again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_13c_id_card_reading"
down_revision = "0021_13b_step_due"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number_readings", sa.JSON(), nullable=True))
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.alter_column("id_digits", existing_type=sa.String(length=14), type_=sa.String(length=32),
                              existing_nullable=True)
    op.execute("UPDATE documents SET id_check = 'unreadable' WHERE id_check = 'unread'")


def downgrade() -> None:
    op.execute("UPDATE documents SET id_check = 'unread' WHERE id_check = 'unreadable'")
    op.execute("UPDATE documents SET id_digits = substr(id_digits, 1, 14) WHERE length(id_digits) > 14")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.alter_column("id_digits", existing_type=sa.String(length=32), type_=sa.String(length=14),
                              existing_nullable=True)
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("number_readings")
