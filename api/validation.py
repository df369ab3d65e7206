"""Reading a person out of a request body: JSON, or JSON in a form field `data`."""

import json
import unicodedata

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from api.errors import ValidationError
from api.models import AGE_MAX, AGE_MIN, LOCALE_MAX_LENGTH, NAME_MAX_LENGTH

FORM_FIELD = "data"
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Clients send back what they read; fields the server owns are ignored.
SERVER_FIELDS = frozenset({"id", "created_at", "updated_at"})
PERSON_FIELDS = ("name", "age", "locale")
# A refusal names this many unknown form fields at most (a body may hold thousands).
UNKNOWN_FIELDS_NAMED = 10


def person_from_request():
    """Return the validated fields of the person in the request body."""
    return validate_person(parse_json_object(body_text()))


def body_text():
    """The JSON text of the body, from a form field `data` or a JSON body."""
    mimetype = request.mimetype
    if mimetype in FORM_MEDIA_TYPES:
        refuse_unknown_form_fields()
        # curl -F 'data=@person.json' sends the field as a file part.
        values = request.form.getlist(FORM_FIELD) + [
            upload.read().decode("utf-8", "replace") for upload in request.files.getlist(FORM_FIELD)
        ]
        if len(values) != 1:
            raise BadRequest(f"Send exactly one form field '{FORM_FIELD}' holding a JSON object.")
        return values[0]
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            return request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequest("The body is not valid UTF-8.") from error
    raise UnsupportedMediaType(
        "Send application/json, or a form field 'data' holding JSON "
        "(application/x-www-form-urlencoded or multipart/form-data)."
    )


def refuse_unknown_form_fields():
    """Refuse, and name, form fields other than `data`, as unknown JSON fields are.

    Ignoring them would lose what a client meant silently (`date=...` for `data=...`). The
    usual reason to ignore them, a browser form's submit button, does not apply: HTML
    forms cannot send PUT.
    """
    unknown = sorted((set(request.form) | set(request.files)) - {FORM_FIELD})
    if unknown:
        named = ", ".join(f"'{name}'" for name in unknown[:UNKNOWN_FIELDS_NAMED])
        more = len(unknown) - UNKNOWN_FIELDS_NAMED
        named += f" and {more} more" if more > 0 else ""
        raise BadRequest(
            f"Unknown form fields: {named}. Send exactly one form field '{FORM_FIELD}' "
            "holding a JSON object."
        )


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicates(pairs):
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys: {', '.join(duplicates)}")
    return dict(pairs)


def parse_json_object(text):
    """Parse strict JSON (no NaN, no duplicate keys) that must be an object."""
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValidationError(
            [{"field": None, "message": "must be a JSON object with name, age and locale"}]
        )
    return value


def _text_error(value, max_length):
    if not isinstance(value, str):
        return "must be a string"
    value = value.strip()
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    # Postgres refuses NUL and UTF-8 has no lone surrogates: reject, never fail later.
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        return "must not contain control characters or lone surrogates"
    return None


def _age_error(value):
    # bool is a subclass of int in Python, but true is not an age.
    if type(value) is not int:
        return "must be an integer"
    if not AGE_MIN <= value <= AGE_MAX:
        return f"must be between {AGE_MIN} and {AGE_MAX}"
    return None


def validate_person(document):
    """Check every field and report all problems at once; return the clean fields."""
    errors = [
        {"field": field, "message": "is not a known field"}
        for field in document
        if field not in PERSON_FIELDS and field not in SERVER_FIELDS
    ]
    checks = {
        "name": lambda value: _text_error(value, NAME_MAX_LENGTH),
        "age": _age_error,
        "locale": lambda value: _text_error(value, LOCALE_MAX_LENGTH),
    }
    for field, check in checks.items():
        if field not in document:
            errors.append({"field": field, "message": "is required"})
        elif message := check(document[field]):
            errors.append({"field": field, "message": message})
    if errors:
        raise ValidationError(errors)
    return {
        "name": document["name"].strip(),
        "age": document["age"],
        "locale": document["locale"].strip(),
    }
