"""the ID card checks the typed national ID: what OCR read off the card's document, and the verdict

Revision ID: 0016_13b_id_card_check
Revises: 0015_13b_step_reminders
Create Date: 2026-12-05 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_13b_id_card_check"
down_revision = "0015_13b_step_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_check", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("id_digits", sa.String(length=14), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("id_digits")
        batch_op.drop_column("id_check")
