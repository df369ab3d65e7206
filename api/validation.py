"""Reading a person out of a request body: JSON, or JSON in a form field `data`.

The parsing no library does lives here; the field rules are in api/schemas.py."""

import json

from flask import current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from api.errors import ValidationError
from api.schemas import field_errors

FORM_FIELD = "data"
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A refusal names this many unknown form fields at most (a body may hold thousands).
UNKNOWN_FIELDS_NAMED = 10


def person_from_request():
    """Return the validated fields of the person in the request body."""
    return validate_person(parse_json_object(body_text()))


def create_body_from_request():
    """The body of a create: the validated fields of one person (an object), or a list
    (an array: a bulk create, which api/bulk.py checks).

    This route reads bodies up to BULK_MAX_CONTENT_LENGTH; one person's body is still
    refused above MAX_CONTENT_LENGTH.
    """
    request.max_content_length = current_app.config["BULK_MAX_CONTENT_LENGTH"]
    text = body_text()
    value = parse_json(text)
    if isinstance(value, list):
        return value
    size = request.content_length
    if (size if size is not None else len(text.encode())) > current_app.config[
        "MAX_CONTENT_LENGTH"
    ]:
        raise RequestEntityTooLarge()
    return validate_person(json_object(value))


PATCH_MEDIA_TYPES = ("application/merge-patch+json", "application/json")


class PatchMediaTypeUnsupported(UnsupportedMediaType):
    """415 for a PATCH, naming the patch formats in Accept-Patch (RFC 5789)."""

    def get_headers(self, environ=None, scope=None):
        accepted = ("Accept-Patch", ", ".join(PATCH_MEDIA_TYPES))
        return [*super().get_headers(environ, scope), accepted]


def changes_from_request():
    """The validated fields of a JSON Merge Patch (RFC 7396): those named are changed.

    For a flat object like a person, merging is setting each named field; `null` would
    remove a field, and every field is required, so it is refused like any invalid value.
    Other JSON media types (application/json-patch+json above all) mean something else.
    """
    if request.mimetype not in PATCH_MEDIA_TYPES + FORM_MEDIA_TYPES:
        raise PatchMediaTypeUnsupported(
            "Send a JSON Merge Patch as application/merge-patch+json or application/json, "
            "or in a form field 'data'."
        )
    return validate_person(parse_json_object(body_text()), partial=True)


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
    document = dict(pairs)
    if len(document) < len(pairs):  # the names of the duplicates only when there are some
        keys = [key for key, _ in pairs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"duplicate keys: {', '.join(duplicates)}")
    return document


def parse_json(text):
    """Parse strict JSON: no NaN, no duplicate keys."""
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from error


def parse_json_object(text):
    """Parse strict JSON that must be an object."""
    return json_object(parse_json(text))


NOT_AN_OBJECT = "must be a JSON object with name, age and locale"


def json_object(value):
    if not isinstance(value, dict):
        raise ValidationError([{"field": None, "message": NOT_AN_OBJECT}])
    return value


def validate_person(document, partial=False):
    """Check every field (only those present when `partial`) and report all problems at
    once; return the clean fields."""
    fields, errors = field_errors(document, partial=partial)
    if errors:
        raise ValidationError(errors)
    return fields
