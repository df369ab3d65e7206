"""The OpenAPI 3.1 document at /openapi.json: every route, its statuses, bodies and headers.

The person's fields come from api/schemas.py (apispec reads them off PersonSchema), so the
document cannot drift from what the service checks; the listing's parameters come from
api/listing.py's own limits. The document is built once per process, on its first request,
and apispec is imported only then: a worker that never serves it never pays for it.
"""

import copy
import functools
import json

from flask import Blueprint, current_app

from api import __version__
from api.export import MEDIA_TYPES as EXPORT_MEDIA_TYPES
from api.listing import LIMIT_DEFAULT, LIMIT_MAX, LOCALES_MAX, QUERY_TEXT_PATTERN, SORT_KEYS
from api.schemas import AGE_MAX, AGE_MIN, LOCALE_MAX_LENGTH, NAME_MAX_LENGTH, SERVER_FIELDS
from api.validation import FORM_FIELD, FORM_MEDIA_TYPES, PATCH_MEDIA_TYPES

bp = Blueprint("openapi", __name__)

ID_MAX = 2**31 - 1
PROBLEM = "application/problem+json"


@bp.get("/openapi.json")
def get_openapi_document():
    """The OpenAPI document; no token needed: the contract is not a secret."""
    config = current_app.config
    text = document_text(config["BULK_MAX_ITEMS"], config["METRICS_OPEN"])
    return current_app.response_class(text, mimetype="application/json")


@functools.lru_cache(maxsize=4)
def document_text(bulk_max_items, metrics_open):
    return json.dumps(build_document(bulk_max_items, metrics_open), ensure_ascii=False)


def build_document(bulk_max_items, metrics_open):
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "People API",
            "version": __version__,
            "description": (
                "People records (name, age, locale). Send a bearer token: each operation "
                "names the role it needs (a `write` token may also read). Every error is an "
                "RFC 9457 problem document."
            ),
        },
        "paths": {
            "/resources/data": {"get": list_operation(), "put": create_operation(bulk_max_items)},
            "/resources/data/{person_id}": {
                "parameters": [{"$ref": "#/components/parameters/person_id"}],
                "get": get_operation(),
                "put": replace_operation(),
                "patch": patch_operation(),
                "delete": delete_operation(),
            },
            "/healthz": {"get": liveness_operation()},
            "/readyz": {"get": readiness_operation()},
            "/metrics": {"get": metrics_operation(metrics_open)},
        },
        "components": components(),
    }


def components():
    person, person_input = person_schemas()
    patch = {key: value for key, value in person_input.items() if key != "required"}
    text = {"type": "string"}
    return {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from `flask --app api tokens create NAME --role ROLE`.",
            }
        },
        "schemas": {
            "Person": person,
            "PersonInput": person_input,
            "PersonPatch": patch,
            "Page": {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}},
                    "next": {
                        "type": ["string", "null"],
                        "description": "The next page's URL (root-relative); null on the last.",
                    },
                },
                "required": ["items", "next"],
                "additionalProperties": False,
            },
            "People": {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}
                },
                "required": ["items"],
                "additionalProperties": False,
            },
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details.",
                "properties": {
                    "type": text,
                    "title": text,
                    "status": {"type": "integer"},
                    "detail": text,
                    "errors": {
                        "type": "array",
                        "description": "One entry per invalid field or query parameter.",
                        "items": {
                            "type": "object",
                            "properties": {"field": {"type": ["string", "null"]}, "message": text},
                            "required": ["field", "message"],
                        },
                    },
                },
                "required": ["type", "title", "status", "detail"],
            },
            "Status": {
                "type": "object",
                "properties": {"status": text},
                "required": ["status"],
            },
        },
        "parameters": {
            "person_id": {
                "name": "person_id",
                "in": "path",
                "required": True,
                "description": "ASCII digits without leading zeros; any other spelling is a 404.",
                "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
            },
            "If-Match": header_parameter(
                "If-Match",
                'Change only if the person is at this version: an ETag as read ("17.3"), '
                "a list of them, or *. Required when the server sets REQUIRE_IF_MATCH.",
            ),
        },
        "headers": {
            "X-Request-ID": {
                "description": "The request's id: the caller's X-Request-ID if safe, else new.",
                "schema": text,
            },
            "ETag": {
                "description": 'The person\'s version, "<id>.<version>".',
                "required": True,
                "schema": text,
            },
            "Retry-After": {"description": "Seconds to wait.", "schema": text},
            "WWW-Authenticate": {
                "description": "RFC 6750's bearer challenge.",
                "required": True,
                "schema": text,
            },
            "Link": {"description": 'The next page: <URL>; rel="next".', "schema": text},
            "X-Total-Count": {
                "description": "The number of matching people (with count=true).",
                "schema": text,
            },
        },
    }


def person_schemas():
    """(Person as shown, Person as sent), both read off PersonSchema by apispec."""
    from api.schemas import person_json_schema

    shown = person_json_schema()
    shown = {**shown, "required": list(shown["properties"])}
    sent = copy.deepcopy(shown)
    sent["required"] = [name for name in shown["properties"] if name not in SERVER_FIELDS]
    for name in SERVER_FIELDS:
        sent["properties"][name] = {"description": "Ignored: the server sets it."}
    return shown, sent


def header_parameter(name, description, **schema):
    return {
        "name": name,
        "in": "header",
        "description": description,
        "schema": {"type": "string", **schema},
    }


def ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def headers(*names):
    return {name: ref("headers", name) for name in ("X-Request-ID", *names)}


def problem(description, *header_names):
    return {
        "description": description,
        "headers": headers(*header_names),
        "content": {PROBLEM: {"schema": ref("schemas", "Problem")}},
    }


def person_response(description, *header_names, schema="Person"):
    return {
        "description": description,
        "headers": headers("ETag", *header_names),
        "content": {"application/json": {"schema": ref("schemas", schema)}},
    }


def secured(role, operation):
    """An operation that needs a token of `role` (in OpenAPI 3.1, a bearer scheme's
    requirement lists role names), with the answers every such operation can give."""
    grants = {"read": "`read` or `write`", "write": "`write`", "metrics": "`metrics`"}[role]
    operation["description"] = f"Role: {grants}. " + operation.get("description", "")
    operation["security"] = [{"bearer": [role]}]
    operation["x-required-role"] = role
    operation["responses"].update(
        {
            "401": problem("No valid bearer token.", "WWW-Authenticate"),
            "403": problem(
                "The token's role does not allow this, or the request came over plain "
                "HTTP or from an address the server does not allow."
            ),
            "429": problem("Over a rate limit.", "Retry-After"),
            "503": problem("The database is unavailable; retry shortly.", "Retry-After"),
        }
    )
    return operation


def body_forms(schema):
    """A person in a JSON body, or as JSON text in the form field `data`."""
    form = {
        "schema": {
            "type": "object",
            "properties": {
                FORM_FIELD: {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": schema,
                    "description": "The JSON text of the body; no other form field is allowed.",
                }
            },
            "required": [FORM_FIELD],
            "additionalProperties": False,
        }
    }
    return {"application/json": {"schema": schema}, **{kind: form for kind in FORM_MEDIA_TYPES}}


def body_problems(*statuses):
    known = {
        "400": "The body is not strict JSON, or the form has other fields than `data`.",
        "413": "The body is too large.",
        "415": "Not JSON nor a form.",
        "422": "Invalid fields; `errors` names each one.",
    }
    return {status: problem(known[status]) for status in statuses}


def write_problems():
    return {
        "404": problem("There is no such person."),
        "412": problem("If-Match does not name the person's current version; nothing changed."),
        "428": problem("The server requires If-Match and none was sent."),
    }


def list_operation():
    export_types = {kind: {"schema": {"type": "string"}} for kind in EXPORT_MEDIA_TYPES}
    parameters = [
        query(
            "locale",
            f"Exact match; repeat it for any of several (at most {LOCALES_MAX}).",
            {
                "type": "array",
                "maxItems": LOCALES_MAX,
                "items": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": LOCALE_MAX_LENGTH,
                    "pattern": QUERY_TEXT_PATTERN,
                },
            },
            explode=True,
        ),
        query("age_min", "Inclusive.", {"type": "integer", "minimum": AGE_MIN, "maximum": AGE_MAX}),
        query(
            "age_max",
            "Inclusive; not below age_min.",
            {"type": "integer", "minimum": AGE_MIN, "maximum": AGE_MAX},
        ),
        query(
            "name_prefix",
            "Names that start with it, case-sensitively.",
            {"type": "string", "maxLength": NAME_MAX_LENGTH, "pattern": QUERY_TEXT_PATTERN},
        ),
        query(
            "updated_after",
            "People updated strictly after this moment (with a timezone).",
            {"type": "string", "format": "date-time"},
        ),
        query(
            "sort",
            "The order; a - prefix for descending. The id breaks ties.",
            {"type": "string", "enum": [sign + key for sign in ("", "-") for key in SORT_KEYS]},
        ),
        query(
            "limit",
            "People per page.",
            {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
        ),
        query("cursor", "Where the page starts: only as found in `next`.", {"type": "string"}),
        query(
            "count",
            "true adds X-Total-Count.",
            {"type": "string", "enum": ["true", "false"], "default": "false"},
        ),
    ]
    return secured(
        "read",
        {
            "operationId": "listPeople",
            "summary": "List people",
            "description": (
                "A page of people (also at /resources/data/). With Accept: text/csv or "
                "application/x-ndjson, every match in id order, streamed (sort, limit, "
                "cursor and count do not apply then)."
            ),
            "tags": ["people"],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "A page, or an export.",
                    "headers": headers("Link", "X-Total-Count"),
                    "content": {
                        "application/json": {"schema": ref("schemas", "Page")},
                        **export_types,
                    },
                },
                "400": problem("Invalid query parameters; `errors` names each one."),
                "414": {
                    "description": "The URL is longer than gunicorn's request-line limit "
                    "(4094 bytes); gunicorn answers this itself, in HTML.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
            },
        },
    )


def query(name, description, schema, explode=False):
    parameter = {"name": name, "in": "query", "description": description, "schema": schema}
    if explode:
        parameter.update(style="form", explode=True)
    return parameter


def create_operation(bulk_max_items):
    person = ref("schemas", "PersonInput")
    many = {"type": "array", "items": person, "minItems": 1, "maxItems": bulk_max_items}
    return secured(
        "write",
        {
            "operationId": "createPerson",
            "summary": "Create a person, or many",
            "description": (
                "One person (201 with Location), or an array of them: all created or none "
                "(also at /resources/data/). With an Idempotency-Key, a repeat gets the "
                "stored answer and creates nothing."
            ),
            "tags": ["people"],
            "parameters": [
                header_parameter(
                    "Idempotency-Key",
                    "Create at most once: a repeat with the same key gets the same answer.",
                    minLength=1,
                    maxLength=255,
                )
            ],
            "requestBody": {"required": True, "content": body_forms({"oneOf": [person, many]})},
            "responses": {
                "201": {
                    "description": "Created: the person (or, for an array, the people).",
                    "headers": {
                        **headers(),
                        "Location": {
                            "description": "The new person's URL (not for an array).",
                            "schema": {"type": "string"},
                        },
                        "ETag": {
                            "description": "The person's version (not for an array).",
                            "schema": {"type": "string"},
                        },
                    },
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [ref("schemas", "Person"), ref("schemas", "People")]
                            }
                        }
                    },
                    "links": {
                        "GetPerson": link("getPerson", "$response.body#/id"),
                        "DeletePerson": link("deletePerson", "$response.body#/id"),
                    },
                },
                "409": problem("A request with the same Idempotency-Key is still being created."),
                **body_problems("400", "413", "415", "422"),
            },
        },
    )


def link(operation_id, person_id, **extra):
    return {"operationId": operation_id, "parameters": {"person_id": person_id, **extra}}


def get_operation():
    return secured(
        "read",
        {
            "operationId": "getPerson",
            "summary": "Read a person",
            "tags": ["people"],
            "parameters": [
                header_parameter(
                    "If-None-Match", "An ETag you hold: 304 while the person is unchanged."
                )
            ],
            "responses": {
                "200": {
                    **person_response("The person."),
                    "links": {
                        name: link(operation_id, "$request.path.person_id")
                        for name, operation_id in (
                            ("PatchPerson", "patchPerson"),
                            ("ReplacePerson", "replacePerson"),
                            ("DeletePerson", "deletePerson"),
                        )
                    },
                },
                "304": {"description": "Not modified.", "headers": headers("ETag")},
                "404": problem("There is no such person."),
            },
        },
    )


def replace_operation():
    return secured(
        "write",
        {
            "operationId": "replacePerson",
            "summary": "Replace every field of a person",
            "tags": ["people"],
            "parameters": [ref("parameters", "If-Match")],
            "requestBody": {
                "required": True,
                "content": body_forms(ref("schemas", "PersonInput")),
            },
            "responses": {
                "200": person_response("The person as stored now."),
                **write_problems(),
                **body_problems("400", "413", "415", "422"),
            },
        },
    )


def patch_operation():
    patch = ref("schemas", "PersonPatch")
    forms = body_forms(patch)
    content = {kind: {"schema": patch} for kind in PATCH_MEDIA_TYPES}
    content.update({kind: forms[kind] for kind in FORM_MEDIA_TYPES})
    unsupported = problem("Not a JSON Merge Patch.", "Accept-Patch")
    unsupported["headers"]["Accept-Patch"] = {
        "description": "The patch formats this server takes.",
        "schema": {"type": "string"},
    }
    return secured(
        "write",
        {
            "operationId": "patchPerson",
            "summary": "Change some fields of a person (JSON Merge Patch)",
            "description": "Fields it names change; null is refused (every field is required).",
            "tags": ["people"],
            "parameters": [ref("parameters", "If-Match")],
            "requestBody": {"required": True, "content": content},
            "responses": {
                "200": {
                    **person_response("The person as stored now."),
                    "links": {"DeletePerson": link("deletePerson", "$request.path.person_id")},
                },
                **write_problems(),
                **body_problems("400", "413", "422"),
                "415": unsupported,
            },
        },
    )


def delete_operation():
    return secured(
        "write",
        {
            "operationId": "deletePerson",
            "summary": "Delete a person",
            "tags": ["people"],
            "parameters": [ref("parameters", "If-Match")],
            "responses": {
                "200": person_response("The person as it was before deletion."),
                **write_problems(),
            },
        },
    )


def status_response(description):
    return {
        "description": description,
        "headers": headers(),
        "content": {"application/json": {"schema": ref("schemas", "Status")}},
    }


def liveness_operation():
    return {
        "operationId": "checkLiveness",
        "summary": "Liveness: the process answers (no token, no database)",
        "tags": ["probes"],
        "security": [],
        "responses": {"200": status_response("Alive.")},
    }


def readiness_operation():
    return {
        "operationId": "checkReadiness",
        "summary": "Readiness: the database answers in time (no token)",
        "tags": ["probes"],
        "security": [],
        "responses": {
            "200": status_response("Ready."),
            "503": problem("The database does not answer.", "Retry-After"),
        },
    }


def metrics_operation(metrics_open):
    operation = {
        "operationId": "getMetrics",
        "summary": "Prometheus metrics",
        "tags": ["probes"],
        "responses": {
            "200": {
                "description": "The Prometheus text format.",
                "headers": headers(),
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    }
    if metrics_open:
        operation["security"] = []
        return operation
    return secured("metrics", operation)
