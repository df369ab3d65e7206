"""Database models."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.schemas import AGE_MAX, AGE_MIN, LOCALE_MAX_LENGTH, NAME_MAX_LENGTH


def utcnow():
    return datetime.now(UTC)


def as_utc(moment):
    """SQLite hands back naive datetimes, which are UTC here; Postgres aware ones."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def isoformat_utc(moment):
    """ISO 8601 in UTC with a Z, or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        # SQLite's, UTC here: a third of the time of the conversion below, which a page of
        # 100 people makes 200 times (about a tenth of the page's CPU time).
        return f"{moment.isoformat()}Z"
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# The columns a listing may be sorted by, besides the id itself.
SORTED_COLUMNS = ("name", "age", "created_at", "updated_at")


class Person(db.Model):
    __tablename__ = "people"
    __table_args__ = (
        sa.CheckConstraint(f"age BETWEEN {AGE_MIN} AND {AGE_MAX}", name="age_range"),
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
        sa.CheckConstraint("length(locale) > 0", name="locale_not_empty"),
        # The listing's keyset pages (api/listing.py): one index a sort, the id last so
        # that the order is total; locale's also serves its filter with the default sort.
        *(sa.Index(f"ix_people_{column}_id", column, "id") for column in SORTED_COLUMNS),
        sa.Index("ix_people_locale_id", "locale", "id"),
        # Never hand a deleted person's id to someone new (SQLite reuses it otherwise).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Code-point order on Postgres as on SQLite (BINARY): the same pages everywhere, and a
    # name_prefix range that is a prefix test whatever the database's default collation.
    name: Mapped[str] = mapped_column(
        sa.String(NAME_MAX_LENGTH).with_variant(
            sa.String(NAME_MAX_LENGTH, collation="C"), "postgresql"
        )
    )
    age: Mapped[int]
    locale: Mapped[str] = mapped_column(sa.String(LOCALE_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    # Goes up by one on every replace and patch: the person's ETag (api/conditional.py).
    version: Mapped[int] = mapped_column(default=1, server_default="1")


PUBLIC_COLUMNS = ("id", "name", "age", "locale", "created_at", "updated_at")


def person_document(values):
    """A person as the API shows it, from a mapping of its columns (a row or a Person)."""
    return {
        "id": values["id"],
        "name": values["name"],
        "age": values["age"],
        "locale": values["locale"],
        "created_at": isoformat_utc(values["created_at"]),
        "updated_at": isoformat_utc(values["updated_at"]),
    }


ROLES = ("read", "write", "metrics")


class Token(db.Model):
    """An API token; only a SHA-256 hash of the secret is stored."""

    __tablename__ = "tokens"
    __table_args__ = (
        sa.CheckConstraint("role IN ('read', 'write', 'metrics')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


# Generous for UUIDs and the like; a longer Idempotency-Key header is a 400.
IDEMPOTENCY_KEY_MAX_LENGTH = 255


class IdempotencyKey(db.Model):
    """A create sent with an Idempotency-Key, and the response it got (api/idempotency.py).

    A row is written in the transaction that creates its person, so it exists only once
    both are committed, together with the response to replay.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keys belong to one token; revoking it deletes them, so a new token of the same name
    # (or, on SQLite, of a reused id) starts with none.
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(IDEMPOTENCY_KEY_MAX_LENGTH))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the parsed body
    person_id: Mapped[int]
    status: Mapped[int]
    body: Mapped[str] = mapped_column(sa.Text)
    location: Mapped[str] = mapped_column(sa.String(100))
    etag: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
