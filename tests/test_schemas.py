"""The field rules, written once: whole and partial checks, messages, and their JSON Schema.

Pure checks of api/schemas.py, with no app and no database; tests/test_people.py checks
the same rules over HTTP.
"""

import re
import sys
import unicodedata

import pytest

from api.schemas import (
    CONTROL_OR_SURROGATE,
    TEXT_PATTERN,
    WholePersonChecker,
    field_errors,
    person_json_schema,
)

PETER = {"name": "peter", "age": 42, "locale": "NYC"}
CONTROL = "must not contain control characters or lone surrogates"


REFUSED = [
    ({}, [("name", "is required"), ("age", "is required"), ("locale", "is required")]),
    ({**PETER, "name": None}, [("name", "must be a string")]),
    ({**PETER, "name": 42}, [("name", "must be a string")]),
    ({**PETER, "name": "  "}, [("name", "must not be empty")]),
    ({**PETER, "name": "a" * 201}, [("name", "must be at most 200 characters")]),
    ({**PETER, "locale": "b" * 65}, [("locale", "must be at most 64 characters")]),
    ({**PETER, "name": "pe\x00ter"}, [("name", CONTROL)]),
    ({**PETER, "name": "\ud800"}, [("name", CONTROL)]),
    ({**PETER, "age": True}, [("age", "must be an integer")]),
    ({**PETER, "age": 42.0}, [("age", "must be an integer")]),
    ({**PETER, "age": "42"}, [("age", "must be an integer")]),
    ({**PETER, "age": None}, [("age", "must be an integer")]),
    ({**PETER, "age": 151}, [("age", "must be between 0 and 150")]),
    ({**PETER, "age": -1}, [("age", "must be between 0 and 150")]),
    (
        {"zeta": 1, "name": 1, "alpha": 2, "age": "x"},
        [
            ("zeta", "is not a known field"),
            ("alpha", "is not a known field"),
            ("name", "must be a string"),
            ("age", "must be an integer"),
            ("locale", "is required"),
        ],
    ),
]


@pytest.mark.parametrize(("document", "errors"), REFUSED)
def test_every_problem_is_reported_with_its_documented_message(document, errors):
    clean, found = field_errors(document)
    assert clean is None
    assert [(error["field"], error["message"]) for error in found] == errors


def test_clean_fields_are_trimmed_and_server_fields_ignored():
    document = {**PETER, "name": "  peter \t", "id": 9, "created_at": "x", "updated_at": None}
    assert field_errors(document) == ({"name": "peter", "age": 42, "locale": "NYC"}, [])


def test_a_partial_body_is_checked_field_by_field():
    assert field_errors({"age": 43}, partial=True) == ({"age": 43}, [])
    assert field_errors({}, partial=True) == ({}, [])
    _, errors = field_errors({"name": None, "nickname": "x"}, partial=True)
    assert errors == [
        {"field": "nickname", "message": "is not a known field"},
        {"field": "name", "message": "must be a string"},
    ]


def test_the_json_schema_is_read_off_the_same_rules():
    schema = person_json_schema()
    assert schema["required"] == ["age", "locale", "name"]
    assert schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["name"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": TEXT_PATTERN,
    }
    assert properties["age"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 150,
        "description": "42.0 is refused: write 42",
    }
    assert properties["locale"]["maxLength"] == 64
    assert all(properties[name]["readOnly"] for name in ("id", "created_at", "updated_at"))


def test_the_control_character_rule_is_exactly_unicodes_cc_and_cs_categories():
    refused = {
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cs")
    }
    matched = {code for code in range(sys.maxunicode + 1) if CONTROL_OR_SURROGATE.match(chr(code))}
    assert matched == refused


ACCEPTED = [
    PETER,
    {**PETER, "name": "  peter \t", "id": 9, "created_at": "x", "updated_at": None},
    {"locale": "東京", "age": 0, "name": 'Zoë, "the 1st" 😀'},
    {**PETER, "age": 150, "name": "a" * 200, "locale": " b " * 21},
]


def test_the_bulk_checker_answers_exactly_as_field_errors_does():
    checker = WholePersonChecker()
    # Twice each, in two orders: the second answers come from the remembered values.
    documents = [document for document, _ in REFUSED] + ACCEPTED
    documents += [
        {**PETER, "age": 1},
        {**PETER, "age": True},  # equal to 1, and refused
        {**PETER, "age": 1.0},
        {**PETER, "locale": "NYC\x00"},
        {**PETER, "name": ["peter"]},
    ]
    for document in [*documents, *reversed(documents)]:
        assert checker(document) == field_errors(document)


def test_the_bulk_checkers_memory_is_bounded():
    checker = WholePersonChecker()
    for age in range(151):
        for name in range(100):
            assert checker({**PETER, "name": f"p{name}.{age}", "age": age})[1] == []
    assert len(checker.memos["name"]) == WholePersonChecker.MEMO_SIZE
    assert len(checker.memos["age"]) == 151


@pytest.mark.parametrize(
    "text", ["peter", " peter ", "Ünïcode ✓", "  ", "", "pe\x00ter", "tab\tin", "\x85", "a\u3000"]
)
def test_the_documented_pattern_agrees_with_the_check(text):
    """The pattern in the document says what the validator says about text content."""
    accepted = not field_errors({**PETER, "name": text})[1]
    assert bool(re.search(TEXT_PATTERN, text)) is accepted
