"""create people

Revision ID: 8148b180652b
Revises:
Create Date: 2026-11-21 21:13:32.835029
"""

import sqlalchemy as sa
from alembic import op

revision = "8148b180652b"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("age BETWEEN 0 AND 150", name=op.f("ck_people_age_range")),
        sa.CheckConstraint("length(locale) > 0", name=op.f("ck_people_locale_not_empty")),
        sa.CheckConstraint("length(name) > 0", name=op.f("ck_people_name_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sqlite_autoincrement=True,
    )


def downgrade():
    op.drop_table("people")
