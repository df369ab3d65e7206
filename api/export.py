"""Exports: every person a listing's filters match, in id order, as CSV or NDJSON text,
produced chunk by chunk so that memory stays flat however many people there are.

Each chunk is one keyset query on a connection of its own (api/queries.py list_people),
so no connection or transaction is held between chunks, and each query is bounded by
DATABASE_STATEMENT_TIMEOUT like any other.
"""

import csv
import dataclasses
import io
import json

from flask import Response, request, stream_with_context

from api import queries
from api.errors import ParameterError
from api.listing import parse_listing
from api.models import person_document

# A chunk's rows, documents and text are what the worker holds at once: measured in-process
# (tracemalloc, NDJSON), 2,000 rows peaked at 6.6 MB and 500 at 1.6 MB, for the same CPU a
# row on SQLite and Postgres (bench/bulk.py measures the whole export through gunicorn).
CHUNK_SIZE = 500
# The first chunk is small, so that the first bytes go out at once even when the filters
# make the database search long for matches.
FIRST_CHUNK_SIZE = 100
MEDIA_TYPES = {"application/x-ndjson": "ndjson", "text/csv": "csv"}
# A page's parameters: an export is every match, in id order.
PAGE_PARAMETERS = ("sort", "limit", "cursor", "count")
CSV_COLUMNS = ("id", "name", "age", "locale", "created_at", "updated_at")


def export_listing(listing):
    """The listing in id order, whatever sort, limit or cursor it was given."""
    return dataclasses.replace(listing, sort_column="id", descending=False, after=None)


def chunks(listing):
    """Lists of person documents, in id order, CHUNK_SIZE at a time."""
    size = FIRST_CHUNK_SIZE
    listing = export_listing(listing)
    while True:
        listing = dataclasses.replace(listing, limit=size - 1)
        rows = queries.list_people(listing)  # limit + 1 rows: a whole chunk
        if not rows:
            return
        yield [person_document(row) for row in rows]
        if len(rows) < size:
            return
        listing = dataclasses.replace(listing, after=(rows[-1]["id"], None))
        size = CHUNK_SIZE


def csv_text(documents, header=False):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180's line ends
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows([document[column] for column in CSV_COLUMNS] for document in documents)
    return buffer.getvalue()


def ndjson_text(documents):
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents)


def export_text(listing, kind):
    """(text, people in it): the CSV header first (so it can be sent at once), then a chunk
    each."""
    if kind == "csv":
        yield csv_text([], header=True), 0
    for documents in chunks(listing):
        text = csv_text(documents) if kind == "csv" else ndjson_text(documents)
        yield text, len(documents)


def requested_kind():
    """"csv" or "ndjson" when Accept prefers one of them to JSON (a page), else None."""
    accept = request.headers.get("Accept", "")
    if "csv" not in accept and "ndjson" not in accept:  # spares a page the Accept parsing
        return None
    best = request.accept_mimetypes.best_match(["application/json", *MEDIA_TYPES])
    return MEDIA_TYPES.get(best)


def export_response(kind):
    """The request's listing, every match, streamed; 400 for a page's parameters."""
    page = [name for name in request.args if name in PAGE_PARAMETERS]
    if page:
        message = "does not apply to an export, which holds every match in id order"
        raise ParameterError([{"field": name, "message": message} for name in page])
    listing = parse_listing(request.args)
    texts = (text for text, _ in export_text(listing, kind))
    mimetype = "text/csv" if kind == "csv" else "application/x-ndjson"
    response = Response(stream_with_context(texts), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response
