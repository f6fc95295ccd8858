"""the case file after intake: document versions, the papers a return asks for, the head's override of missing papers

Revision ID: 0020_13a_case_file
Revises: 0019_15_access_code
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_13a_case_file"
down_revision = "0019_15_access_code"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("added_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_supersedes_id_documents"), "documents", ["supersedes_id"], ["id"]
        )
        batch_op.create_foreign_key(batch_op.f("fk_documents_added_by_id_users"), "users", ["added_by_id"], ["id"])
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_codes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("override_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("override_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_applications_override_by_id_users"), "users", ["override_by_id"], ["id"]
        )
    op.create_table(
        "completion_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("problem", sa.String(length=16), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("answer_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name=op.f("fk_completion_items_application_id_applications")
        ),
        sa.ForeignKeyConstraint(
            ["transition_id"], ["transitions.id"], name=op.f("fk_completion_items_transition_id_transitions")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_completion_items_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completion_items")),
    )
    with op.batch_alter_table("completion_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_completion_items_application_id"), ["application_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("completion_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_completion_items_application_id"))
    op.drop_table("completion_items")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_applications_override_by_id_users"), type_="foreignkey")
        batch_op.drop_column("override_at")
        batch_op.drop_column("override_by_id")
        batch_op.drop_column("override_reason")
        batch_op.drop_column("override_codes")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_documents_added_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_documents_supersedes_id_documents"), type_="foreignkey")
        batch_op.drop_column("added_by_id")
        batch_op.drop_column("supersedes_id")
        batch_op.drop_column("version")
