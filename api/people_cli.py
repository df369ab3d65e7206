"""`flask --app api people import|export`: people in and out in bulk (api/bulk.py,
api/export.py)."""

import io
import os
import signal
import sys

import click
from flask.cli import AppGroup
from werkzeug.datastructures import MultiDict

from api import bulk, export, queries
from api.errors import ParameterError
from api.extensions import db
from api.listing import parse_listing
from api.progress import progress

people_cli = AppGroup("people", help="Import and export people in bulk.")


def file_format(path, chosen):
    if chosen:
        return chosen
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension in bulk.FORMATS:
        return extension
    raise click.UsageError("Name the format: --format csv|ndjson (the extension does not).")


def open_binary(path):
    return sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115


def stop_on_sigterm():
    # SIGTERM ends the process without unwinding by default; as SystemExit it unwinds
    # through the transaction, which is rolled back like after Ctrl-C.
    def leave(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


@people_cli.command("import")
@click.argument("path", metavar="FILE")
@click.option(
    "--format", "chosen_format", type=click.Choice(bulk.FORMATS), help="Default: the extension."
)
@click.option("--skip-invalid", is_flag=True, help="Store the valid rows, report the others.")
def import_people(path, chosen_format, skip_invalid):
    """Import people from a CSV (header name,age,locale) or NDJSON FILE; - is stdin."""
    kind = file_format(path, chosen_format)
    stop_on_sigterm()
    try:
        binary = open_binary(path)
    except OSError as error:
        raise click.ClickException(f"Cannot read {path}: {error.strerror}") from error
    size = None if path == "-" else os.fstat(binary.fileno()).st_size
    with binary, progress("Importing", size, binary.tell) as step:
        if kind == "csv":
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            rows = bulk.checked_rows(bulk.csv_rows(text), from_csv=True)
        else:
            rows = bulk.checked_rows(bulk.ndjson_rows(binary), from_csv=False)
        outcome = run_import(rows, skip_invalid, step)
    for message in outcome.messages:
        click.echo(message, err=True)
    if outcome.invalid > len(outcome.messages):
        click.echo(f"... and {outcome.invalid - len(outcome.messages)} more.", err=True)
    if outcome.invalid and not skip_invalid:
        raise click.ClickException(
            f"{outcome.invalid} invalid rows; nothing was stored "
            "(--skip-invalid stores the valid rows)."
        )
    click.echo(f"Imported {outcome.stored} people; skipped {outcome.invalid} invalid rows.")


def run_import(rows, skip_invalid, step):
    """One transaction: committed at the end, rolled back on any refusal (all or nothing),
    on an error, Ctrl-C or SIGTERM."""
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            outcome = bulk.import_rows(connection, rows, skip_invalid, step)
        except UnicodeDecodeError as error:
            transaction.rollback()
            raise click.ClickException(f"The file is not valid UTF-8: {error}") from error
        except ValueError as error:  # the CSV header
            transaction.rollback()
            raise click.ClickException(str(error)) from error
        if outcome.invalid and not skip_invalid:
            transaction.rollback()
            outcome.stored = 0
        else:
            transaction.commit()
    return outcome


@people_cli.command("export")
@click.argument("path", metavar="[FILE]", default="-")
@click.option(
    "--format", "chosen_format", type=click.Choice(bulk.FORMATS), help="Default: the extension."
)
@click.option("--locale", multiple=True, help="Only this locale (repeatable).")
@click.option("--age-min", help="Only people this old or older.")
@click.option("--age-max", help="Only people this old or younger.")
@click.option("--name-prefix", help="Only names starting with this.")
@click.option("--updated-after", help="Only people changed after this ISO 8601 moment.")
def export_people(path, chosen_format, **filters):
    """Export people, in id order, as CSV or NDJSON to FILE (default: standard output)."""
    kind = chosen_format or ("csv" if path == "-" else file_format(path, None))
    arguments = MultiDict()
    for name, value in filters.items():
        for item in value if name == "locale" else [value]:
            if item is not None:
                arguments.add(name, item)
    try:
        listing = parse_listing(arguments)
    except ParameterError as error:
        problems = "; ".join(option_problem(problem) for problem in error.errors)
        raise click.UsageError(problems) from error
    total = queries.count_people(listing) if sys.stderr.isatty() else None  # for the bar
    output = click.open_file(path, "w", encoding="utf-8")
    count = 0
    with output, progress("Exporting", total, lambda: count) as step:
        for text, people in export.export_text(listing, kind):
            output.write(text)
            count += people
            step(people)
    click.echo(f"Exported {count} people.", err=True)


def option_problem(problem):
    return f"--{problem['field'].replace('_', '-')} {problem['message']}"
