"""the revision album is built only by the worker: the permit row names the revision whose album is stored

Revision ID: 0023_15b_permit_album
Revises: 0022_13c_id_card_reading
Create Date: 2026-12-05 14:45:00

``permits.album_sha256`` is the archived revision whose album the worker stored (``signing.album_backlog``). Existing
rows start empty: the recovery job looks at each once, finds the album the daily renewal pass already built, and
records it (or builds it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_15b_permit_album"
down_revision = "0022_13c_id_card_reading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("album_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.drop_column("album_sha256")
