"""The people resource: the tutorial app's curl contract on /resources/data."""

from flask import Blueprint, url_for
from werkzeug.exceptions import NotFound

from api import queries
from api.extensions import auth
from api.listing import listing_from_request, page_response
from api.metrics import metrics
from api.models import person_document
from api.validation import person_from_request

bp = Blueprint("people", __name__)

# Only the canonical spelling of an id from 0 to 2**31 - 1 is routed (api/routing.py): any
# other is a 404 for every method, never a database overflow or a second URL for a person.
PERSON_URL = "/resources/data/<id:person_id>"

def no_such_person(person_id):
    return NotFound(f"There is no person with id {person_id}.")


# Both spellings of the collection answer; a redirect would lose the body with curl.
@bp.get("/resources/data")
@bp.get("/resources/data/")
@auth.login_required(role="read")
def list_people():
    """A page of people, filtered and sorted, with the next page's URL (api/listing.py)."""
    listing = listing_from_request()
    rows = queries.list_people(listing)
    total = queries.count_people(listing) if listing.count else None
    return page_response(listing, rows, total)


@bp.put("/resources/data")
@bp.put("/resources/data/")
@auth.login_required(role="write")
def create_person():
    """Create a person; 201 with its URL in Location."""
    fields = person_from_request()
    with queries.one_statement_connection() as connection:
        person = queries.insert_person(connection, fields)
        connection.commit()  # on Postgres the INSERT has committed already
    metrics.count_change("created")
    location = url_for("people.get_person", person_id=person["id"])
    return person_document(person), 201, {"Location": location}


@bp.get(PERSON_URL)
@auth.login_required(role="read")
def get_person(person_id):
    """Return one person."""
    person = queries.fetch_person(person_id)
    if person is None:
        raise no_such_person(person_id)
    return person_document(person)


@bp.put(PERSON_URL)
@auth.login_required(role="write")
def replace_person(person_id):
    """Replace every field of an existing person."""
    fields = person_from_request()
    with queries.one_statement_connection() as connection:
        person = queries.replace_person(connection, person_id, fields)
        connection.commit()
    if person is None:  # never stored, or deleted, perhaps a moment ago
        raise no_such_person(person_id)
    metrics.count_change("replaced")
    return person_document(person)


@bp.delete(PERSON_URL)
@auth.login_required(role="write")
def delete_person(person_id):
    """Delete a person and return what was deleted."""
    with queries.one_statement_connection() as connection:
        deleted = queries.delete_person(connection, person_id)
        connection.commit()
    if deleted is None:
        raise no_such_person(person_id)
    metrics.count_change("deleted")
    return person_document(deleted)
