"""The people resource: the tutorial app's curl contract on /resources/data."""

from flask import Blueprint, current_app, url_for

from api import bulk, conditional, export, idempotency, queries
from api.conditional import CACHE_CONTROL, no_such_person, person_headers
from api.extensions import auth
from api.listing import listing_from_request, page_response
from api.metrics import metrics
from api.models import person_document
from api.validation import changes_from_request, create_body_from_request, person_from_request

bp = Blueprint("people", __name__)

# Only the canonical spelling of an id from 0 to 2**31 - 1 is routed (api/routing.py): any
# other is a 404 for every method, never a database overflow or a second URL for a person.
PERSON_URL = "/resources/data/<id:person_id>"


# Both spellings of the collection answer; a redirect would lose the body with curl.
@bp.get("/resources/data")
@bp.get("/resources/data/")
@auth.login_required(role="read")
def list_people():
    """A page of people, filtered and sorted, with the next page's URL (api/listing.py);
    with Accept: text/csv or application/x-ndjson, every match, streamed (api/export.py)."""
    kind = export.requested_kind()
    if kind is not None:
        return export.export_response(kind)
    listing = listing_from_request()
    rows = queries.list_people(listing)
    total = queries.count_people(listing) if listing.count else None
    return page_response(listing, rows, total)


@bp.put("/resources/data")
@bp.put("/resources/data/")
@auth.login_required(role="write")
def create_person():
    """Create a person (201 with its URL in Location), or, given an array, every person
    in it or none (api/bulk.py). With an Idempotency-Key, once."""
    key = idempotency.key_from_request()
    fields = create_body_from_request()
    if isinstance(fields, list):
        return create_people(key, fields)
    if key is not None:
        return idempotency.create_once(key, fields)
    person = queries.create_person(fields)
    metrics.count_change("created")
    location = url_for("people.get_person", person_id=person["id"])
    return person_document(person), 201, {**person_headers(person), "Location": location}


def create_people(key, items):
    people = bulk.people_from_array(items, current_app.config["BULK_MAX_ITEMS"])
    if key is not None:
        return idempotency.create_many_once(key, people)
    rows = queries.create_people(people)
    metrics.count_change("created", len(rows))
    return {"items": [person_document(row) for row in rows]}, 201, {"Cache-Control": CACHE_CONTROL}


@bp.get(PERSON_URL)
@auth.login_required(role="read")
def get_person(person_id):
    """Return one person, or 304 if the client's copy (If-None-Match) is current."""
    person = queries.fetch_person(person_id)
    if person is None:
        raise no_such_person(person_id)
    if conditional.not_modified(person):
        return "", 304, person_headers(person)
    return person_document(person), person_headers(person)


@bp.put(PERSON_URL)
@auth.login_required(role="write")
def replace_person(person_id):
    """Replace every field of an existing person (at the version If-Match names)."""
    fields = person_from_request()
    return write_person(person_id, fields, "replaced")


@bp.patch(PERSON_URL)
@auth.login_required(role="write")
def patch_person(person_id):
    """Change the fields a JSON Merge Patch names (at the version If-Match names)."""
    changes = changes_from_request()
    if not changes:  # nothing to write: the person as it is, if it is the one expected
        versions = conditional.expected_versions(person_id)
        person = queries.fetch_person(person_id)
        conditional.check_version(person, person_id, versions)
        return person_document(person), person_headers(person)
    return write_person(person_id, changes, "patched")


def write_person(person_id, fields, change):
    versions = conditional.expected_versions(person_id)
    with queries.one_statement_connection() as connection:
        person = queries.update_person(connection, person_id, fields, versions)
        connection.commit()
    if person is None:  # never stored, deleted (perhaps a moment ago), or changed
        raise conditional.refused_write(person_id, versions)
    metrics.count_change(change)
    return person_document(person), person_headers(person)


@bp.delete(PERSON_URL)
@auth.login_required(role="write")
def delete_person(person_id):
    """Delete a person (at the version If-Match names) and return what was deleted."""
    versions = conditional.expected_versions(person_id)
    with queries.one_statement_connection() as connection:
        deleted = queries.delete_person(connection, person_id, versions)
        connection.commit()
    if deleted is None:
        raise conditional.refused_write(person_id, versions)
    metrics.count_change("deleted")
    return person_document(deleted), person_headers(deleted)
