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

from api import queries
from api.models import person_document

CHUNK_SIZE = 2000
CSV_COLUMNS = ("id", "name", "age", "locale", "created_at", "updated_at")


def export_listing(listing):
    """The listing in id order, whatever sort, limit or cursor it was given."""
    return dataclasses.replace(listing, sort_column="id", descending=False, after=None)


def chunks(listing):
    """Lists of person documents, in id order, CHUNK_SIZE at a time."""
    listing = dataclasses.replace(export_listing(listing), limit=CHUNK_SIZE - 1)
    while True:
        rows = queries.list_people(listing)  # limit + 1 rows: a whole chunk
        if not rows:
            return
        yield [person_document(row) for row in rows]
        if len(rows) < CHUNK_SIZE:
            return
        listing = dataclasses.replace(listing, after=(rows[-1]["id"], None))


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
