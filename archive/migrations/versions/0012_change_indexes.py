"""indexes on the times of recent changes, read by the search index's lag check and catch-up on every /healthz

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = (
    ("applications", "updated_at"),
    ("pages", "finished_at"),
    ("workflow_steps", "decided_at"),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
