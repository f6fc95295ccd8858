"""recovery: pages.lease_at, the last sign of life of whoever holds a page (a worker reading it, or a sent message)

Revision ID: 0018_17b_page_lease
Revises: 0017_13b_document_signatures
Create Date: 2026-12-05 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_17b_page_lease"
down_revision = "0017_13b_document_signatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_pages_lease_at", ["lease_at"])


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index("ix_pages_lease_at")
        batch_op.drop_column("lease_at")
