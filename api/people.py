"""The people resource: the tutorial app's curl contract on /resources/data."""

from flask import Blueprint, url_for
from werkzeug.exceptions import NotFound

from api.extensions import auth, db, metrics
from api.models import Person, utcnow
from api.validation import person_from_request

bp = Blueprint("people", __name__)

# Ids beyond the 32-bit primary key are not routed: a 404, never a database overflow.
PERSON_URL = "/resources/data/<int(max=2147483647):person_id>"


def get_person_or_404(person_id):
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(f"There is no person with id {person_id}.")
    return person


# Both spellings of the collection answer; a redirect would lose the body with curl.
@bp.put("/resources/data")
@bp.put("/resources/data/")
@auth.login_required(role="write")
def create_person():
    """Create a person; 201 with its URL in Location."""
    person = Person(**person_from_request())
    db.session.add(person)
    db.session.commit()
    metrics.count_change("created")
    location = url_for("people.get_person", person_id=person.id)
    return person.to_dict(), 201, {"Location": location}


@bp.get(PERSON_URL)
@auth.login_required(role="read")
def get_person(person_id):
    """Return one person."""
    return get_person_or_404(person_id).to_dict()


@bp.put(PERSON_URL)
@auth.login_required(role="write")
def replace_person(person_id):
    """Replace every field of an existing person."""
    fields = person_from_request()
    person = get_person_or_404(person_id)
    for name, value in fields.items():
        setattr(person, name, value)
    person.updated_at = utcnow()
    db.session.commit()
    metrics.count_change("replaced")
    return person.to_dict()


@bp.delete(PERSON_URL)
@auth.login_required(role="write")
def delete_person(person_id):
    """Delete a person and return what was deleted."""
    person = get_person_or_404(person_id)
    deleted = person.to_dict()
    db.session.delete(person)
    db.session.commit()
    metrics.count_change("deleted")
    return deleted
