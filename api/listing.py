"""The collection listing's query string: every parameter checked, and the page's answer.

Every problem is reported at once, one entry a parameter, as a 400 problem. An unknown
parameter is refused rather than ignored: `?local=NYC` would otherwise list everyone.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import request

from api.cursors import decode_cursor, encode_cursor, query_digest
from api.errors import ParameterError
from api.models import SORTED_COLUMNS, person_document
from api.schemas import AGE_MAX, AGE_MIN, LOCALE_MAX_LENGTH, NAME_MAX_LENGTH

SORT_KEYS = ("id", *SORTED_COLUMNS)
LIMIT_MAX, LIMIT_DEFAULT = 1000, 100
LOCALES_MAX = 100  # values of `locale` in one request
PARAMETERS = (
    "locale", "age_min", "age_max", "name_prefix", "updated_after", "sort", "limit", "cursor",
    "count",
)  # fmt: skip
REPEATABLE = {"locale"}
WHOLE_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,5})")  # ASCII only: int() takes "٣" and "+3"


@dataclass(frozen=True)
class Listing:
    """What a page asks for: filters (by parameter name), sort, limit and position."""

    filters: dict
    sort_column: str
    descending: bool
    limit: int
    count: bool
    digest: str
    after: tuple | None  # (id, sort value) of the previous page's last row


def listing_from_request():
    """The checked listing of the current request; ParameterError lists every problem."""
    return parse_listing(request.args)


def parse_listing(args):
    errors = {}
    for name in args:
        if name not in PARAMETERS:
            errors[name] = "is not a known parameter; the known ones are " + ", ".join(PARAMETERS)
        elif name not in REPEATABLE and len(args.getlist(name)) > 1:
            errors[name] = "must be given once"
    values = {}
    for name, parse in PARSERS.items():
        if name in args and name not in errors:
            try:
                values[name] = parse(args.getlist(name) if name in REPEATABLE else args[name])
            except ValueError as error:
                errors[name] = str(error)
    if "age_max" in values and values["age_max"] < values.get("age_min", AGE_MIN):
        errors["age_max"] = "must not be less than age_min"
    sort = values.get("sort", "id")
    filters = {name: values[name] for name in FILTERS if name in values}
    digest = query_digest(filters, sort)
    after = None
    if "cursor" in args and not errors:  # its binding means something only then
        try:
            after = decode_cursor(args["cursor"], digest, sort.lstrip("-"))
        except ValueError as error:
            errors["cursor"] = str(error)
    if errors:
        order = [name for name in args if name in errors] + [n for n in errors if n not in args]
        raise ParameterError([{"field": name, "message": errors[name]} for name in order])
    return Listing(
        filters=filters,
        sort_column=sort.lstrip("-"),
        descending=sort.startswith("-"),
        limit=values.get("limit", LIMIT_DEFAULT),
        count=values.get("count", False),
        digest=digest,
        after=after,
    )


def whole_number(text, minimum, maximum):
    if not WHOLE_NUMBER.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise ValueError(f"must be a whole number from {minimum} to {maximum}")
    return int(text)


# query_text's rule as a JSON Schema pattern, for the OpenAPI document.
QUERY_TEXT_PATTERN = r"^[^\u0000-\u001f\u007f]*$"


def query_text(text, max_length):
    # Postgres refuses NUL, and a lone surrogate cannot be encoded: neither can be stored.
    if any(ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) < 0xE000 for char in text):
        raise ValueError("must not contain control characters")
    if len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    return text


def parse_locales(texts):
    if len(texts) > LOCALES_MAX:
        raise ValueError(f"may be given at most {LOCALES_MAX} times")
    if "" in texts:
        raise ValueError("must not be empty")
    return [query_text(text, LOCALE_MAX_LENGTH) for text in texts]


def parse_timestamp(text):
    """ISO 8601 with a timezone, as UTC; a timestamp without one is ambiguous: refused."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ValueError(
            "must be an ISO 8601 timestamp with a timezone, such as 2026-12-01T09:30:00Z "
            "or 2026-12-01T10:30:00+01:00"
        ) from error


def parse_sort(text):
    if text.lstrip("-") not in SORT_KEYS or text.startswith("--"):
        raise ValueError(
            "must be one of " + ", ".join(SORT_KEYS) + ", each with a - prefix for descending"
        )
    return text


def parse_count(text):
    if text not in ("true", "false"):
        raise ValueError("must be true or false")
    return text == "true"


PARSERS = {
    "locale": parse_locales,
    "age_min": lambda text: whole_number(text, AGE_MIN, AGE_MAX),
    "age_max": lambda text: whole_number(text, AGE_MIN, AGE_MAX),
    "name_prefix": lambda text: query_text(text, NAME_MAX_LENGTH),
    "updated_after": parse_timestamp,
    "sort": parse_sort,
    "limit": lambda text: whole_number(text, 1, LIMIT_MAX),
    "count": parse_count,
}
FILTERS = ("locale", "age_min", "age_max", "name_prefix", "updated_after")


def page_response(listing, rows, total):
    """The page's body and headers; `rows` holds one row more than the page when there
    is a next page, and `total` is the count or None."""
    page, more = rows[: listing.limit], len(rows) > listing.limit
    headers = {}
    next_url = None
    if more:
        last = page[-1]
        sort_value = None if listing.sort_column == "id" else last["sort_value"]
        cursor = encode_cursor(listing.digest, last["id"], sort_value)
        kept = [(name, value) for name, value in request.args.items(multi=True) if name != "cursor"]
        next_url = f"{request.script_root}{request.path}?{urlencode([*kept, ('cursor', cursor)])}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    if total is not None:
        headers["X-Total-Count"] = str(total)
    return {"items": [person_document(row) for row in page], "next": next_url}, 200, headers
