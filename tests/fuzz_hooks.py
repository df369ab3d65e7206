"""schemathesis hooks for tests/test_contract_fuzz.py: the few rules JSON Schema cannot say.

Each one keeps the fuzzer from calling a request valid that the service rightly refuses
(the README documents each refusal); everything else is generated as the document says.
"""

import json
import uuid

import schemathesis

FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
KEYED_BODIES = {}  # Idempotency-Key -> the body first sent with it


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """The form field `data` holds a person's JSON as text (contentSchema), and schemathesis
    fills it with any JSON text, never a person; so the fuzzer sends JSON bodies only. The
    form's field is read by the same code (tests/test_people.py checks it)."""
    for item in raw_schema["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                for media_type in FORM_MEDIA_TYPES:
                    operation["requestBody"]["content"].pop(media_type, None)


@schemathesis.hook
def before_call(context, case, kwargs):
    # JSON Schema's "integer" includes 42.0; the service refuses it (README: Fields).
    for item in case.body if isinstance(case.body, list) else [case.body]:
        if isinstance(item, dict):
            age = item.get("age")
            if isinstance(age, float) and age.is_integer():
                item["age"] = int(age)
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "listPeople" and case.query:
        # A cursor is only as found in `next`: any other is refused, as documented.
        case.query.pop("cursor", None)
        low, high = whole(case.query.get("age_min")), whole(case.query.get("age_max"))
        if low is not None and high is not None and high < low:
            case.query["age_min"], case.query["age_max"] = high, low
    key = (case.headers or {}).get("Idempotency-Key")
    if operation_id == "createPerson" and isinstance(key, str):
        # A key already used for another person is a 422, as documented: a new key then.
        body = json.dumps(case.body, sort_keys=True, default=repr)
        if KEYED_BODIES.setdefault(key, body) != body:
            case.headers["Idempotency-Key"] = uuid.uuid4().hex


def whole(value):
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value if isinstance(value, int) else None
