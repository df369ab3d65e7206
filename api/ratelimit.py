"""Request limits per token, and a stricter one on failed authentications per client address.

Counters live in Redis (REDIS_URL), so every worker of every instance adds to the same
ones; without it, in each worker's memory, which the start-up warning and the README say.
Fixed windows (the `limits` library: parsing, the in-memory store, the window's state for
the 429's headers). With Redis, a token's requests are served from blocks of each window's
quota that the worker leases (api/quota.py), so most need no round trip; a failed
authentication, rarer, is counted by one small script in one command and round trip for all
its limits, not one a limit as the library's own `hit` would.

A store that fails must not refuse every client: the request is served unchecked, the
`people_api_rate_limit_store_errors` counter counts it, and the worker leaves the store
alone for STORE_PAUSE_SECONDS, so that requests do not each wait for a dead Redis (and the
warning in the log comes once a pause, not once a request).
"""

import math
import time

import limits
import limits.strategies
from limits.errors import StorageError
from limits.storage import RedisStorage
from werkzeug.exceptions import HTTPException

from api.quota import LEASE_SCRIPT, LeasedQuota

# The production defaults; development has no limits unless they are set.
PRODUCTION_RATE_LIMIT = "50/second;2000/minute"
PRODUCTION_AUTH_FAILURE_RATE_LIMIT = "10/minute"
OFF = ("", "off", "none")
# Redis answers in a millisecond or two; one that takes longer than this counts as down.
STORE_TIMEOUT_SECONDS = 0.25
STORE_PAUSE_SECONDS = 5
KEY_PREFIX = "people-api"
# Count one request in each window (KEYS), starting a window with its expiry (ARGV, in
# seconds) on its first request; the counts, in order. A script runs atomically, so a
# window cannot end between the two commands and leave a counter that never expires.
COUNT_SCRIPT = """
local counts = {}
for index, key in ipairs(KEYS) do
    counts[index] = redis.call("INCR", key)
    if counts[index] == 1 then
        redis.call("EXPIRE", key, ARGV[index])
    end
end
return counts
"""


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


def open_store(config):
    """Redis when REDIS_URL is set (rediss:// for TLS), else this process's memory."""
    url = config["REDIS_URL"]
    if not url:
        return limits.storage.MemoryStorage()
    # Imported only here: the redis client adds about 6 MB to a worker that never uses it.
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options = {
        "socket_timeout": STORE_TIMEOUT_SECONDS,
        "socket_connect_timeout": STORE_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),  # a retry would double the wait for a dead Redis
    }
    if url.startswith("rediss://") and not config["REDIS_VERIFY_TLS"]:
        options["ssl_cert_reqs"] = "none"  # Heroku Redis's self-signed certificates
    return limits.storage.RedisStorage(url, key_prefix=KEY_PREFIX, wrap_exceptions=True, **options)


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
        self.limiter = None
        self.quota = None
        self.store_failures = StorageError
        if self.enabled:
            self.limiter = limits.strategies.FixedWindowRateLimiter(open_store(config))
            if config["REDIS_URL"]:
                connection = self.limiter.storage.get_connection()
                self.count_script = connection.register_script(COUNT_SCRIPT)
                self.lease_script = connection.register_script(LEASE_SCRIPT)
                self.quota = LeasedQuota(self.token_limits, self.lease_blocks)
                # The script's command fails with the client's own errors, not wrapped.
                from redis.exceptions import RedisError

                self.store_failures = (StorageError, RedisError)
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
        store = self.limiter.storage
        chosen = [self.token_limits[index] for index in indexes]
        keys = [store.prefixed_key(limit.key_for("token", token_name)) for limit in chosen]
        arguments = []
        for limit, size in zip(chosen, sizes, strict=True):
            arguments += [limit.amount, size, limit.get_expiry()]
        return self.ask(self.lease_script, keys, arguments)

    def check_failed_authentication(self, address):
        """Count a failed authentication from this address; 429 when it is over the limit."""
        self.count(self.failure_limits, "auth-failure", address)

    def refuse_blocked_address(self, address):
        """429 when the address is over its failed-authentication limit (counting nothing)."""
        for limit in self.failure_limits:
            if self.ask(self.limiter.test, limit, "auth-failure", address) is False:
                self.refuse(limit, "auth-failure", address)

    def count(self, limit_items, *identifiers):
        if not limit_items:
            return
        counts = self.ask(self.increment, limit_items, identifiers)
        for limit, count in zip(limit_items, counts or (), strict=False):
            if count > limit.amount:
                self.refuse(limit, *identifiers)

    def increment(self, limit_items, identifiers):
        """Count one request against each limit; the counts, in the same order."""
        store = self.limiter.storage
        if not isinstance(store, RedisStorage):
            return [
                store.incr(limit.key_for(*identifiers), limit.get_expiry()) for limit in limit_items
            ]
        # The keys the library's own hit would use, so its window state reads these counters.
        keys = [store.prefixed_key(limit.key_for(*identifiers)) for limit in limit_items]
        return self.count_script(keys=keys, args=[limit.get_expiry() for limit in limit_items])

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
                getattr(error, "storage_error", error),
            )
            return None

    def refuse(self, limit, *identifiers, window=None):
        """429 for this limit; `window` is (reset at, remaining) when known without the store."""
        try:
            reset_at, remaining = window or self.limiter.get_window_stats(limit, *identifiers)
        except StorageError:
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
