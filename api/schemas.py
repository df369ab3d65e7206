"""The field rules of a person, written once.

The same schema checks a whole body (create, replace), a partial one (a merge patch, a bulk
row) and is what the OpenAPI document describes (apispec reads its fields and validators).
Messages are the ones the README documents; every problem with a body is reported at once.
"""

import re

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

NAME_MAX_LENGTH = 200
LOCALE_MAX_LENGTH = 64
AGE_MIN, AGE_MAX = 0, 150
# Clients send back what they read: fields the server owns are ignored in a body.
SERVER_FIELDS = ("id", "created_at", "updated_at")


# Unicode's categories Cc (control) and Cs (surrogate), which its stability policy fixes:
# one regular expression search is about 30 times faster than a category lookup a character
# (tests/test_schemas.py checks it against unicodedata over every code point).
CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# The same two rules as a JSON Schema pattern, for the OpenAPI document: no control
# character anywhere, and something left after trimming.
NOT_CONTROL = r"[^\u0000-\u001f\u007f-\u009f]"
TEXT_PATTERN = rf"^{NOT_CONTROL}*[^\s\u0000-\u001f\u007f-\u009f]{NOT_CONTROL}*$"


def refuse_control_characters(value):
    # Postgres refuses NUL and UTF-8 has no lone surrogates: reject, never fail later.
    if CONTROL_OR_SURROGATE.search(value):
        raise ValidationError("must not contain control characters or lone surrogates")


class Text(fields.String):
    """A string stored trimmed; its length and content are checked after trimming."""

    def __init__(self, max_length, **kwargs):
        messages = {"invalid": "must be a string", "null": "must be a string"}
        metadata = {"pattern": TEXT_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(
            required=True,
            error_messages={"required": "is required", **messages},
            validate=[
                validate.Length(min=1, error="must not be empty"),
                validate.Length(max=max_length, error="must be at most {max} characters"),
                refuse_control_characters,
            ],
            metadata=metadata,
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class WholeNumber(fields.Integer):
    """A JSON integer: 42.0, "42" and true are refused (bool is an int in Python)."""

    def __init__(self, minimum, maximum, **kwargs):
        messages = {"invalid": "must be an integer", "null": "must be an integer"}
        super().__init__(
            strict=True,
            required=True,
            error_messages={"required": "is required", **messages},
            validate=validate.Range(minimum, maximum, error="must be between {min} and {max}"),
            **kwargs,
        )

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class PersonSchema(Schema):
    """A person's fields: what a body may hold and what a response shows."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "is not a known field"}

    id = fields.Integer(dump_only=True)
    name = Text(NAME_MAX_LENGTH)
    age = WholeNumber(AGE_MIN, AGE_MAX, metadata={"description": "42.0 is refused: write 42"})
    locale = Text(LOCALE_MAX_LENGTH, metadata={"description": "free text such as NYC"})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @pre_load
    def ignore_server_fields(self, document, **kwargs):
        return {key: value for key, value in document.items() if key not in SERVER_FIELDS}


person_schema = PersonSchema()


def field_errors(document, partial=False):
    """(clean fields, errors): errors as [{field, message}], unknown fields first, in the
    body's order, then the person's fields in their order; one message a field."""
    try:
        return person_schema.load(document, partial=partial), []
    except ValidationError as error:
        messages = error.messages
    order = [key for key in document if key in messages and key not in person_schema.fields]
    order += [name for name in person_schema.fields if name in messages]
    return None, [{"field": name, "message": messages[name][0]} for name in order]


class WholePersonChecker:
    """field_errors(document) for many whole documents (a bulk import), faster.

    A well-formed document (only known keys, every field a str or an int) is checked by
    calling each field's own deserialize, the code Schema.load calls, without the schema's
    per-document bookkeeping (about a third of a load); the clean value of a field's
    text or number is remembered (a locale or an age repeats across rows), up to
    MEMO_SIZE values a field so that memory stays bounded. Any other document, and any
    field that refuses its value, goes through field_errors itself, so that a refused row
    gets exactly the API's messages in its order.
    """

    MEMO_SIZE = 4096
    SIMPLE_TYPES = (str, int)  # bool, float and the rest take field_errors' path

    def __init__(self):
        self.fields = tuple(person_schema.load_fields.items())
        self.known = set(person_schema.load_fields) | set(SERVER_FIELDS)
        self.memos = {name: {} for name, _ in self.fields}

    def __call__(self, document):
        """(clean fields, errors), as field_errors(document) returns them."""
        if not self.known.issuperset(document):
            return field_errors(document)
        clean = {}
        for name, field in self.fields:
            value = document.get(name)
            if type(value) not in self.SIMPLE_TYPES:
                return field_errors(document)
            memo = self.memos[name]  # keyed by a str or an int only: True never meets 1
            if value in memo:
                clean[name] = memo[value]
                continue
            try:
                clean[name] = result = field.deserialize(value, name, document)
            except ValidationError:
                return field_errors(document)
            if len(memo) < self.MEMO_SIZE:
                memo[value] = result
        return clean, []


def person_json_schema():
    """The person as an OpenAPI 3.1 / JSON Schema object, read off PersonSchema itself.

    apispec is imported here, not at start-up: only the document needs it.
    """
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec("People API", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    spec.components.schema("Person", schema=PersonSchema)
    return spec.to_dict()["components"]["schemas"]["Person"]
