"""listing indexes: one a sort, locale's, names in code-point order on Postgres

Revision ID: b13a0f5e7c21
Revises: 45e2dcb37e7f
Create Date: 2026-12-01 16:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "b13a0f5e7c21"
down_revision = "45e2dcb37e7f"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_people_name_id": ["name", "id"],
    "ix_people_age_id": ["age", "id"],
    "ix_people_created_at_id": ["created_at", "id"],
    "ix_people_updated_at_id": ["updated_at", "id"],
    "ix_people_locale_id": ["locale", "id"],
}


def set_name_collation(collation):
    # SQLite compares text by code point (BINARY) already; only Postgres needs the change.
    # Equality is unchanged (both collations are deterministic): only the order differs.
    if op.get_context().dialect.name == "postgresql":
        op.alter_column(
            "people",
            "name",
            type_=sa.String(length=200, collation=collation),
            existing_type=sa.String(length=200),
            existing_nullable=False,
        )


def upgrade():
    set_name_collation("C")
    with op.batch_alter_table("people") as batch:
        for name, columns in INDEXES.items():
            batch.create_index(name, columns)


def downgrade():
    with op.batch_alter_table("people") as batch:
        for name in INDEXES:
            batch.drop_index(name)
    set_name_collation(None)
