"""desk signing: documents prepared for a signature made on the official's token

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prepared_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("base_pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("prepared_pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_digest", sa.LargeBinary(), nullable=False),
        sa.Column("reserved_start", sa.Integer(), nullable=False),
        sa.Column("reserved_end", sa.Integer(), nullable=False),
        sa.Column("signed_attributes", sa.LargeBinary(), nullable=False),
        sa.Column("digest_algorithm", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["step_id"], ["workflow_steps.id"], name=op.f("fk_prepared_signatures_step_id_workflow_steps")
        ),
        sa.ForeignKeyConstraint(["permit_id"], ["permits.id"], name=op.f("fk_prepared_signatures_permit_id_permits")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_prepared_signatures_user_id_users")),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["official_certificates.id"],
            name=op.f("fk_prepared_signatures_certificate_id_official_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prepared_signatures")),
        sa.UniqueConstraint("step_id", name=op.f("uq_prepared_signatures_step_id")),
        sqlite_autoincrement=True,  # ids never reused: see the model
    )
    op.create_index(op.f("ix_prepared_signatures_permit_id"), "prepared_signatures", ["permit_id"], unique=False)
    op.create_index(op.f("ix_prepared_signatures_user_id"), "prepared_signatures", ["user_id"], unique=False)
    op.create_index(op.f("ix_prepared_signatures_expires_at"), "prepared_signatures", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_prepared_signatures_expires_at"), table_name="prepared_signatures")
    op.drop_index(op.f("ix_prepared_signatures_user_id"), table_name="prepared_signatures")
    op.drop_index(op.f("ix_prepared_signatures_permit_id"), table_name="prepared_signatures")
    op.drop_table("prepared_signatures")
