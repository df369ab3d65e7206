"""ETags and conditional requests (RFC 9110 section 13) for a person.

A person's ETag is `"<id>.<version>"`: strong, since the version changes with every
replace and patch, and carrying the id so that an ETag read from one person never matches
another. The write itself checks If-Match (api/queries.py puts the versions in its WHERE),
so two writers holding the same ETag cannot both win; the functions here only read the
headers and pick the error for a write that matched no row.
"""

from flask import current_app, request
from werkzeug.exceptions import NotFound, PreconditionFailed, PreconditionRequired
from werkzeug.http import parse_etags

from api import queries

# Shared caches must not keep a person; a browser or client may, but revalidates each time.
CACHE_CONTROL = "private, no-cache"


def etag(person):
    return f'"{person["id"]}.{person["version"]}"'


def person_headers(person):
    """The headers of every response that carries a person."""
    return {"ETag": etag(person), "Cache-Control": CACHE_CONTROL}


def no_such_person(person_id):
    return NotFound(f"There is no person with id {person_id}.")


def not_modified(person):
    """True when If-None-Match names the person's current ETag (weak comparison), or `*`."""
    header = request.environ.get("HTTP_IF_NONE_MATCH")
    if header is None:  # the usual GET: one dictionary lookup, nothing parsed
        return False
    tags = parse_etags(header)
    return tags.star_tag or tags.contains_weak(etag(person)[1:-1])


def expected_versions(person_id):
    """The versions the request's If-Match allows the write to find: None for any (no
    If-Match, or `*`), else a set, empty when no strong ETag of this person is named.

    Without If-Match under REQUIRE_IF_MATCH: 428, but 404 for a person that does not exist
    (RFC 9110 13.2.1: a precondition is not evaluated for a missing resource).
    """
    header = request.headers.get("If-Match")
    if header is None:
        if current_app.config["REQUIRE_IF_MATCH"]:
            if queries.fetch_person(person_id) is None:
                raise no_such_person(person_id)
            raise PreconditionRequired(
                "This server requires If-Match on PUT, PATCH and DELETE of a person: "
                'send the ETag you read, as If-Match: "<id>.<version>", or If-Match: * to '
                "change it whatever its version."
            )
        return None
    tags = parse_etags(header)
    if tags.star_tag:
        return None
    versions = set()
    for tag in tags.as_set(include_weak=False):  # If-Match compares strongly
        if tag is None:  # werkzeug's value for an empty tag, "": matches nothing
            continue
        tag_id, _, version = tag.partition(".")
        if tag_id == str(person_id) and version.isascii() and version.isdigit():
            versions.add(int(version))
    return versions


def check_version(person, person_id, versions):
    """For a request that writes nothing (an empty patch): 404 or 412 as a write would."""
    if person is None:
        raise no_such_person(person_id)
    if versions is not None and person["version"] not in versions:
        raise precondition_failed(person_id)


def refused_write(person_id, versions):
    """The error for a write that matched no row: 404 without a person, else 412.

    The write has already decided, atomically; this read only chooses what to report.
    """
    if versions is None or queries.fetch_person(person_id) is None:
        return no_such_person(person_id)
    return precondition_failed(person_id)


def precondition_failed(person_id):
    return PreconditionFailed(
        f"Person {person_id} has changed since the ETag in If-Match was read; nothing was "
        "changed. GET it for its current ETag and retry."
    )
