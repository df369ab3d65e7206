"""Bulk rows: reading people out of CSV and NDJSON files, checking each with the API's own
rules (api/schemas.py), and storing the valid ones in batches.

Files are streamed: one row at a time is read and checked, and at most one batch is held,
so memory does not grow with a file's size.
"""

import csv
import re
from dataclasses import dataclass, field

from werkzeug.exceptions import BadRequest

from api import queries
from api.errors import ValidationError
from api.schemas import SERVER_FIELDS, WholePersonChecker, field_errors
from api.validation import NOT_AN_OBJECT, parse_json_object

FORMATS = ("csv", "ndjson")
COLUMNS = ("name", "age", "locale")
BATCH_SIZE = 5000
ERRORS_SHOWN = 100
# A CSV age is text: only the canonical spelling of an integer is one ("42.0", " 42",
# "+42" and "042" are not), so that what is stored is exactly what the file says.
CANONICAL_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
CSV_AGE_MESSAGE = "must be an integer written in digits only, such as 42"


def csv_rows(text_file):
    """(line number, document or None, errors) for each row; line 1 is the header.

    A row's line is the one it starts on (a quoted field may span lines).
    """
    reader = csv.reader(text_file, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ValueError(f"line 1: {error}") from error
    check_header(header)
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader, None)
        except csv.Error as error:
            # Fatal even with --skip-invalid: the reader cannot tell where the next row
            # starts, and rows silently left out would be worse than none imported.
            raise ValueError(
                f"line {start}: not valid CSV ({error}); nothing was stored"
            ) from error
        if row is None:
            return
        previous_end = reader.line_num
        if not row:  # a blank line
            continue
        if len(row) != len(header):
            message = f"has {len(row)} fields; the header has {len(header)}"
            yield start, None, [{"field": None, "message": message}]
            continue
        document = dict(zip(header, row, strict=True))
        yield start, document, []


def check_header(header):
    if header is None:
        raise ValueError("the file is empty; a CSV file starts with the header name,age,locale")
    unknown = [name for name in header if name not in COLUMNS + SERVER_FIELDS]
    missing = [name for name in COLUMNS if name not in header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if unknown or missing or repeated:
        raise ValueError(
            "line 1: the header must name the columns name, age and locale once each "
            "(id, created_at and updated_at are allowed and ignored)"
        )


def csv_age(document):
    """The document (changed in place) with its age as an integer; the age's own error if
    it is not one."""
    age = document["age"]
    if CANONICAL_INTEGER.fullmatch(age):
        document["age"] = int(age)
        return document, None
    del document["age"]
    return document, CSV_AGE_MESSAGE


def ndjson_rows(binary_file):
    """(line number, document or None, errors) for each non-blank line."""
    for number, line in enumerate(binary_file, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None, [{"field": None, "message": "is not valid UTF-8"}]
            continue
        if not text.strip():
            continue
        try:
            yield number, parse_json_object(text), []
        except BadRequest as error:
            yield number, None, [{"field": None, "message": error.description}]
        except ValidationError as error:
            yield number, None, error.errors


def checked_rows(rows, from_csv):
    """(line number, clean fields or None, errors): the API's rules applied to every row."""
    check = WholePersonChecker()
    for number, document, errors in rows:
        if errors:
            yield number, None, errors
            continue
        age_error = None
        if from_csv:
            document, age_error = csv_age(document)
        fields, errors = check(document)
        if age_error:
            errors = [e for e in errors if e["field"] != "age"]
            errors.append({"field": "age", "message": age_error})
            fields = None
        yield number, fields, errors


@dataclass
class Outcome:
    """What an import did: rows stored, rows refused, and the first refusals' messages."""

    stored: int = 0
    invalid: int = 0
    messages: list = field(default_factory=list)

    def refuse(self, number, errors):
        self.invalid += 1
        if len(self.messages) < ERRORS_SHOWN:
            problems = "; ".join(
                f"{e['field']} {e['message']}" if e["field"] else e["message"] for e in errors
            )
            self.messages.append(f"line {number}: {problems}")


def import_rows(connection, rows, skip_invalid, progress=None):
    """Store the valid rows in batches on `connection` (the caller commits or rolls back).

    In all-or-nothing mode rows are still stored while reading, so that memory stays flat;
    the caller rolls the transaction back if any row was refused.
    """
    outcome = Outcome()
    batch = []
    for number, fields, errors in rows:
        if errors:
            outcome.refuse(number, errors)
        elif skip_invalid or not outcome.invalid:  # once one fails, storing is pointless
            batch.append(fields)
            if len(batch) >= BATCH_SIZE:
                outcome.stored += queries.insert_people(connection, batch)
                batch = []
        if progress is not None:
            progress()
    if batch and (skip_invalid or not outcome.invalid):
        outcome.stored += queries.insert_people(connection, batch)
    return outcome


def people_from_array(items, max_items):
    """The validated fields of every person of a bulk create, in order; a ValidationError
    naming each bad item's fields as "[3].age" (every problem at once)."""
    if not 1 <= len(items) <= max_items:
        message = f"must hold 1 to {max_items} people"
        raise ValidationError([{"field": None, "message": message}])
    people, problems = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append({"field": f"[{index}]", "message": NOT_AN_OBJECT})
            continue
        fields, errors = field_errors(item)
        people.append(fields)
        for error in errors:
            name = f"[{index}].{error['field']}" if error["field"] else f"[{index}]"
            problems.append({"field": name, "message": error["message"]})
    if problems:
        raise ValidationError(problems)
    return people
