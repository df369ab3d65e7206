"""Request limits per token, and a stricter one on failed authentications per client address.

Counters live in Redis (REDIS_URL), so every worker of every instance adds to the same
ones; without it, in each worker's memory, which the start-up warning and the README say
(api/counters.py). Fixed windows; the `limits` library parses the settings. With Redis, a
token's requests are served from blocks of each window's quota that the worker leases
(api/quota.py), so most need no round trip; a failed authentication, rarer, is counted by
one small script in one round trip for all its limits.

A store that fails must not refuse every client: the request is served unchecked, the
`people_api_rate_limit_store_errors` counter counts it, and the worker leaves the store
alone for STORE_PAUSE_SECONDS, so that requests do not each wait for a dead Redis (and the
warning in the log comes once a pause, not once a request).
"""

import math
import time

import limits
from werkzeug.exceptions import HTTPException

from api.counters import open_windows
from api.quota import LeasedQuota

# The production defaults; development has no limits unless they are set.
PRODUCTION_RATE_LIMIT = "50/second;2000/minute"
PRODUCTION_AUTH_FAILURE_RATE_LIMIT = "10/minute"
OFF = ("", "off", "none")
STORE_PAUSE_SECONDS = 5


class TooManyRequests(HTTPException):
    """429, with Retry-After and the rate-limit headers of the limit that was reached."""

    code = 429

    def __init__(self, description, headers):
        super().__init__(description)
        self.limit_headers = headers

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), *self.limit_headers]


def parse_limits(text):
    """ "50/second;2000/minute" as limit items (none for "" or "off"); ValueError if unreadable."""
    if text is None or text.strip().lower() in OFF:
        return ()
    return tuple(limits.parse_many(text))


def limit_setting(config, name, production_default):
    """The setting's text; unset (None), the default for APP_ENV."""
    value = config[name]
    if value is None:
        return production_default if config["APP_ENV"] == "production" else ""
    return value


class RateLimits:
    """The app's limits and the store they count in."""

    def __init__(self, app):
        config = app.config
        self.token_limits = parse_limits(limit_setting(config, "RATE_LIMIT", PRODUCTION_RATE_LIMIT))
        self.failure_limits = parse_limits(
            limit_setting(config, "AUTH_FAILURE_RATE_LIMIT", PRODUCTION_AUTH_FAILURE_RATE_LIMIT)
        )
        self.enabled = bool(self.token_limits or self.failure_limits)
        self.logger = app.logger
        self.store_errors = app.extensions["metrics"].rate_limit_store_errors
        self.store = None
        self.quota = None
        self.store_failures = ()
        if self.enabled:
            self.store = open_windows(config)
            self.store_failures = self.store.failures
            if self.store.shared:
                self.quota = LeasedQuota(self.token_limits, self.lease_blocks)
            else:
                self.logger.warning(
                    "rate limits are per worker process: no REDIS_URL, so each worker counts "
                    "on its own and a client may make (workers x instances) times as many "
                    "requests"
                )
        self.paused_until = 0.0

    def check_token(self, token_name):
        """Count a request of this token; 429 when it is over a limit."""
        if self.quota is None:
            self.count(self.token_limits, "token", token_name)
        elif refusal := self.quota.take(token_name):
            limit, seconds_left = refusal
            self.refuse(limit, "token", token_name, window=(time.time() + seconds_left, 0))

    def lease_blocks(self, token_name, indexes, sizes):
        """Lease blocks of these token limits' windows: [granted, milliseconds left, ...]."""
        chosen = [self.token_limits[index] for index in indexes]
        return self.ask(self.store.lease, chosen, ("token", token_name), sizes)

    def check_failed_authentication(self, address):
        """Count a failed authentication from this address; 429 when it is over the limit."""
        self.count(self.failure_limits, "auth-failure", address)

    def refuse_blocked_address(self, address):
        """429 when the address is over its failed-authentication limit (counting nothing)."""
        for limit in self.failure_limits:
            if self.ask(self.store.spent, limit, ("auth-failure", address)):
                self.refuse(limit, "auth-failure", address)

    def count(self, limit_items, *identifiers):
        if not limit_items:
            return
        counts = self.ask(self.store.count, limit_items, identifiers)
        for limit, count in zip(limit_items, counts or (), strict=False):
            if count > limit.amount:
                self.refuse(limit, *identifiers)

    def ask(self, question, *arguments):
        """The store's answer, or None (go ahead, unchecked) while it is failing."""
        if self.paused_until and time.monotonic() < self.paused_until:
            self.store_errors.inc()
            return None
        try:
            return question(*arguments)
        except self.store_failures as error:
            self.paused_until = time.monotonic() + STORE_PAUSE_SECONDS
            self.store_errors.inc()
            self.logger.warning(
                "rate limits not checked for %d s: the store failed: %s",
                STORE_PAUSE_SECONDS,
                error,
            )
            return None

    def refuse(self, limit, *identifiers, window=None):
        """429 for this limit; `window` is (reset at, remaining) when known without the store."""
        try:
            reset_at, remaining = window or self.store.window(limit, identifiers)
        except self.store_failures:
            reset_at, remaining = time.time() + limit.get_expiry(), 0
        retry_after = max(1, math.ceil(reset_at - time.time()))
        amount, window = limit.amount, limit.get_expiry()
        headers = [
            ("Retry-After", str(retry_after)),
            ("RateLimit-Policy", f"{amount};w={window}"),
            ("RateLimit", f"limit={amount}, remaining={remaining}, reset={retry_after}"),
            ("X-RateLimit-Limit", str(amount)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(math.ceil(reset_at))),
        ]
        if identifiers[0] == "token":
            detail = f"This token is over its limit of {limit}; retry in {retry_after} s."
        else:
            detail = (
                f"Too many failed authentications from this address (limit {limit}); "
                f"retry in {retry_after} s."
            )
        raise TooManyRequests(detail, headers)


def init_rate_limits(app):
    app.extensions["rate_limits"] = RateLimits(app)
