"""the receipt's access code for the status inquiry, stored as its SHA-256 (the last ID digits were no secret)

Revision ID: 0019_15_access_code
Revises: 0018_17b_page_lease
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_15_access_code"
down_revision = "0018_17b_page_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_code_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("access_code_sha256")
