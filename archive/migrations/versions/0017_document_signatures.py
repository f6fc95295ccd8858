"""signed attachments: each signature found in an uploaded PDF with its verdict; the document's overall check

Revision ID: 0017_13b_document_signatures
Revises: 0016_13b_id_card_check
Create Date: 2026-12-05 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_13b_document_signatures"
down_revision = "0016_13b_id_card_check"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature_check", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_documents_signature_check"), ["signature_check"], unique=False)
    op.create_table(
        "document_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("field_name", sa.String(length=200), nullable=False),
        sa.Column("signer_name", sa.String(length=300), nullable=False),
        sa.Column("signing_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timestamp_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("indication", sa.String(length=16), nullable=False),
        sa.Column("sub_indication", sa.String(length=64), nullable=True),
        sa.Column("reasons_ar", sa.JSON(), nullable=False),
        sa.Column("reasons_en", sa.JSON(), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_document_signatures_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_signatures")),
    )
    with op.batch_alter_table("document_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_signatures_document_id"), ["document_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("document_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_signatures_document_id"))
    op.drop_table("document_signatures")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_signature_check"))
        batch_op.drop_column("signature_check")
