"""Opaque page cursors: the last row's position, bound to the query it was made for.

A cursor is base64url (unpadded) of compact JSON: `{"q": digest, "id": id, "v": value}`,
`v` being the last row's sort value (absent when sorting by id). The digest is a hash of
the filters and the sort, not of the limit, which a client may change between pages. It
is not signed: a crafted cursor can only name a position in the same listing, which the
client could reach by paging anyway, so no secret key is needed. Every field is checked,
so that anything else is a 400 and never reaches the database.
"""

import base64
import binascii
import hashlib
import json
from datetime import datetime

from api.routing import MAX_ID
from api.schemas import AGE_MAX, AGE_MIN, NAME_MAX_LENGTH

CURSOR_MAX_LENGTH = 1000  # a real cursor is under 400 characters
MALFORMED = "is not a cursor this service made; follow the `next` URL as it is"
MISMATCHED = (
    "was made for other filters or another sort; follow the `next` URL as it is, "
    "or start again without a cursor"
)


def query_digest(filters, sort):
    """A short hash of what a page was asked for; locales as a set (their order is moot)."""
    key = {**filters, "locale": sorted(set(filters.get("locale") or ()))}
    text = json.dumps([1, key, sort], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def encode_cursor(digest, person_id, sort_value):
    payload = {"q": digest, "id": person_id}
    if sort_value is not None:
        payload["v"] = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def decode_cursor(cursor, digest, sort_column):
    """(id, sort value) of a cursor made for this digest and sort; ValueError with the
    reason otherwise."""
    payload = parse_payload(cursor)
    keys = {"q", "id"} if sort_column == "id" else {"q", "id", "v"}
    if set(payload) != keys or not isinstance(payload["q"], str):
        raise ValueError(MALFORMED)
    if payload["q"] != digest:
        raise ValueError(MISMATCHED)
    person_id = payload["id"]
    if not is_whole_number(person_id, 0, MAX_ID):
        raise ValueError(MALFORMED)
    if sort_column == "id":
        return person_id, None
    value = payload["v"]
    if not VALUE_CHECKS[sort_column](value):
        raise ValueError(MALFORMED)
    return person_id, value


def parse_payload(cursor):
    if len(cursor) > CURSOR_MAX_LENGTH or not cursor.isascii():
        raise ValueError(MALFORMED)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(MALFORMED) from error
    if not isinstance(payload, dict):
        raise ValueError(MALFORMED)
    return payload


def is_whole_number(value, minimum, maximum):
    # bool is an int in Python; JSON's true is not a number.
    return type(value) is int and minimum <= value <= maximum


def is_stored_name(value):
    # A name that could be stored: it goes into the SQL as a bound value, so it must at
    # least encode (no lone surrogates) and hold no NUL, which Postgres refuses.
    if not isinstance(value, str) or not 0 < len(value) <= NAME_MAX_LENGTH or "\0" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_timestamp(value):
    """SQLite's stored text or Postgres's ISO 8601, either way what fromisoformat reads."""
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


VALUE_CHECKS = {
    "name": is_stored_name,
    "age": lambda value: is_whole_number(value, AGE_MIN, AGE_MAX),
    "created_at": is_timestamp,
    "updated_at": is_timestamp,
}
