"""Bearer-token authentication: hashed tokens with roles, cached briefly per process."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, request

from api.environ import AUTH_FAILURE, TOKEN_NAME
from api.errors import problem_response
from api.extensions import auth, db
from api.models import Token, as_utc, utcnow

# Recognisable by secret scanners; the rest is 256 bits from the OS CSPRNG.
TOKEN_PREFIX = "pplapi_"
# What each role may do: write includes read; metrics is only for scrapers.
ROLE_GRANTS = {"read": ("read",), "write": ("read", "write"), "metrics": ("metrics",)}
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Caller:
    """The verified token behind a request (never the secret itself)."""

    id: int  # the token row's: what Idempotency-Keys are scoped to
    name: str
    role: str
    expires_at: datetime | None


def new_secret():
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret):
    # The secret has 256 random bits, so a fast hash is enough; no salt or stretching needed.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class TokenCache:
    """Verified tokens per process, so most requests skip the database.

    An entry lives `seconds` at most: that bounds how long a revoked token keeps
    working on a worker. Unknown tokens are not cached, so a new token works at once.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.entries = {}

    def get(self, secret_hash):
        entry = self.entries.get(secret_hash)
        if entry is not None and time.monotonic() - entry[0] < self.seconds:
            return entry[1]
        return None

    def put(self, secret_hash, caller):
        if len(self.entries) >= CACHE_MAX_ENTRIES:
            self.entries.clear()
        self.entries[secret_hash] = (time.monotonic(), caller)


tokens = Token.__table__


def load_caller(secret_hash):
    """Look the token up and note its use, in one statement and one round trip.

    On a connection of its own, not the ORM session: an ORM UPDATE also looks for the
    token among the session's objects, which took a worker about 2 % of its CPU time under
    load (py-spy), where each token is looked up again every TOKEN_CACHE_SECONDS.
    """
    statement = (
        sa.update(tokens)
        .where(tokens.c.secret_hash == secret_hash)
        .values(last_used_at=utcnow())
        .returning(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.expires_at)
    )
    with db.engine.begin() as connection:
        row = connection.execute(statement).one_or_none()
    return None if row is None else Caller(*row)


@auth.verify_token
def verify_token(secret):
    # Each look-up through Flask's context proxies costs about 1 % of a GET's instructions
    # (callgrind): one for the app's, one for the request's.
    extensions, environ = current_app.extensions, request.environ
    secret_hash = hash_secret(secret)
    cache = extensions["token_cache"]
    caller = cache.get(secret_hash)
    limits = extensions["rate_limits"]
    if caller is None:
        if limits.failure_limits:  # an address guessing tokens gets no more database look-ups
            limits.refuse_blocked_address(request.remote_addr)
        caller = load_caller(secret_hash)
        if caller is None:
            environ[AUTH_FAILURE] = "unknown"
            return None
        cache.put(secret_hash, caller)
    expires_at = as_utc(caller.expires_at)
    if expires_at is not None and expires_at <= utcnow():
        environ[AUTH_FAILURE] = "expired"
        return None
    environ[TOKEN_NAME] = caller.name
    if limits.token_limits:
        limits.check_token(caller.name)
    return caller


@auth.get_user_roles
def get_roles(caller):
    return ROLE_GRANTS[caller.role]


@auth.error_handler
def auth_error(status):
    """401 or 403 in the problem shape, with RFC 6750's WWW-Authenticate."""
    realm = f'Bearer realm="{auth.realm}"'
    noted = request.environ
    if status == 403:
        noted[AUTH_FAILURE] = "insufficient_scope"
        challenge = f'{realm}, error="insufficient_scope"'
        detail = f"The token '{noted[TOKEN_NAME]}' does not have the role this request needs."
    elif "Authorization" in request.headers:
        noted.setdefault(AUTH_FAILURE, "malformed")
        challenge = f'{realm}, error="invalid_token"'
        detail = {
            "unknown": "The bearer token is not valid (unknown or revoked).",
            "expired": "The bearer token has expired.",
        }.get(noted[AUTH_FAILURE], "Send the token as 'Authorization: Bearer <token>'.")
    else:
        noted[AUTH_FAILURE] = "missing"
        challenge = realm
        detail = "This request needs a bearer token: 'Authorization: Bearer <token>'."
    if status == 401:  # over the address's limit of failures, a 429 instead
        current_app.extensions["rate_limits"].check_failed_authentication(request.remote_addr)
    return problem_response(status, detail, headers=[("WWW-Authenticate", challenge)])


def issue_token(name, role, expires_at=None):
    """Store a new token's hash and return the secret: the only time it exists in full."""
    secret = new_secret()
    token = Token(name=name, role=role, secret_hash=hash_secret(secret), expires_at=expires_at)
    db.session.add(token)
    db.session.commit()
    return secret


def init_token_cache(app):
    app.extensions["token_cache"] = TokenCache(app.config["TOKEN_CACHE_SECONDS"])
