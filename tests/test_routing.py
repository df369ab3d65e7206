"""Person URLs: one spelling per id, and a 404 for every other, whatever the method."""

import re

import pytest

from api.routing import MAX_ID, decimal_range_pattern
from tests.conftest import before_storage
from tests.test_people import COLLECTION, PETER, assert_problem, create

METHODS = ["GET", "HEAD", "PUT", "DELETE", "PATCH", "POST", "OPTIONS"]
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


@pytest.mark.parametrize("maximum", [0, 1, 9, 10, 99, 100, 101, 250, 1000, 1999, MAX_ID])
def test_the_pattern_matches_exactly_the_canonical_numbers_up_to_the_maximum(maximum):
    pattern = re.compile(decimal_range_pattern(maximum))
    numbers = set(range(0, 2100)) | set(range(max(maximum - 1100, 0), maximum + 1100))
    numbers |= {10**power for power in range(12)} | {MAX_ID, MAX_ID + 1, 10**11 - 1}
    for number in numbers:
        assert bool(pattern.fullmatch(str(number))) == (number <= maximum), number
        for spelling in (f"0{number}", f"+{number}", f" {number}", f"{number}.0"):
            assert not pattern.fullmatch(spelling), spelling
        assert not pattern.fullmatch(str(number).translate(FULLWIDTH)), number


def assert_not_found(response):
    """A 404 problem document (HEAD has its headers, without the body)."""
    if response.request.method == "HEAD":
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.data == b""
    else:
        assert_problem(response, 404)
    assert "Allow" not in response.headers


INVALID_IDS = [
    "2147483648",
    "4294967296",
    "9999999999",
    "99999999999999999999",
    "-1",
    "+1",
    "1.0",
    "1e3",
    "0x1",
    "abc",
    "%00",
    "%201",
]


@before_storage  # no route matches: nothing is looked up
@pytest.mark.parametrize("person_id", INVALID_IDS)
def test_every_method_on_an_invalid_id_is_404_with_or_without_a_token(app, client, person_id):
    anonymous = app.test_client()
    for method in METHODS:
        for caller in (client, anonymous):
            response = caller.open(f"{COLLECTION}{person_id}", method=method, json=PETER)
            assert_not_found(response)


def other_spellings(person_id):
    text = str(person_id)
    return [
        f"0{text}",
        f"00{text}",
        text.translate(FULLWIDTH),
        text.translate(ARABIC_INDIC),
        text.translate(DEVANAGARI),
        "0" + text.translate(FULLWIDTH),
    ]


def test_a_person_has_one_url_only(app, client, stored_people):
    person = create(client)
    anonymous = app.test_client()
    for spelling in other_spellings(person["id"]):
        for method in METHODS:
            for caller in (client, anonymous):
                response = caller.open(f"{COLLECTION}{spelling}", method=method, json=PETER)
                assert_not_found(response)
    assert stored_people() == [{"id": person["id"], **PETER}]
    assert client.get(f"{COLLECTION}{person['id']}").get_json() == person


@pytest.mark.parametrize("person_id", ["0", str(MAX_ID)])
def test_the_smallest_and_largest_ids_are_routed(app, client, person_id):
    # Routed: the view answers (no such person), and without a token auth does first.
    body = assert_problem(client.get(f"{COLLECTION}{person_id}"), 404)
    assert body["detail"] == f"There is no person with id {person_id}."
    assert_problem(client.put(f"{COLLECTION}{person_id}", json=PETER), 404)
    assert_problem(client.delete(f"{COLLECTION}{person_id}"), 404)
    assert_problem(app.test_client().get(f"{COLLECTION}{person_id}"), 401)


def test_a_method_the_person_url_does_not_have_is_405_with_allow(app, client):
    person = create(client)
    for method in ("POST", "TRACE"):
        for caller in (client, app.test_client()):
            response = caller.open(f"{COLLECTION}{person['id']}", method=method, json=PETER)
            assert_problem(response, 405)
            allowed = {item.strip() for item in response.headers["Allow"].split(",")}
            assert {"GET", "HEAD", "PUT", "PATCH", "DELETE"} <= allowed


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/resources/data", {"GET", "HEAD", "PUT", "OPTIONS"}),
        ("/resources/data/", {"GET", "HEAD", "PUT", "OPTIONS"}),
        ("/resources/data/1", {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}),
        ("/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_options_is_204_with_allow_and_no_body_without_a_token(app, stored_people, path, allowed):
    response = app.test_client().options(path)
    assert response.status_code == 204
    assert {item.strip() for item in response.headers["Allow"].split(",")} == allowed
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert stored_people() == []
