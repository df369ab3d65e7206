"""Where the rate limits count: in Redis for every worker and instance, or in one worker.

Both count fixed windows under the `limits` library's keys
(LIMITER/<kind>/<who>/<amount>/<multiples>/<granularity>), so the counters in Redis read the
same as they did when the library's own Redis store kept them. Each store answers:
`count` (one more request in each window, the counts), `spent` (is a window used up,
counting nothing) and `window` (when it ends, and what is left in it); Redis also `lease`s
blocks of a window (api/quota.py).
"""

import time

import limits
import limits.strategies

from api.quota import LEASE_SCRIPT
from api.redis_client import Redis, RedisError

KEY_PREFIX = "people-api"
# Redis answers in a millisecond or two; one that takes longer than this counts as down.
STORE_TIMEOUT_SECONDS = 0.25
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


class MemoryWindows:
    """This worker's own counters (no REDIS_URL): the `limits` library's memory store."""

    failures = ()  # memory does not fail
    shared = False

    def __init__(self):
        self.limiter = limits.strategies.FixedWindowRateLimiter(limits.storage.MemoryStorage())

    def count(self, limit_items, identifiers):
        store = self.limiter.storage
        return [
            store.incr(limit.key_for(*identifiers), limit.get_expiry()) for limit in limit_items
        ]

    def spent(self, limit, identifiers):
        return not self.limiter.test(limit, *identifiers)

    def window(self, limit, identifiers):
        return tuple(self.limiter.get_window_stats(limit, *identifiers))


class RedisWindows:
    """Counters in Redis (REDIS_URL), shared by every worker of every instance.

    Counting is one script call, one command and one round trip for all of a request's
    limits; `spent` and `window` are rare (a refused address, a 429).
    """

    failures = (RedisError,)
    shared = True

    def __init__(self, url, verify_tls):
        self.redis = Redis(url, STORE_TIMEOUT_SECONDS, verify_tls)

    def count(self, limit_items, identifiers):
        keys = [key(limit, identifiers) for limit in limit_items]
        return self.redis.eval(COUNT_SCRIPT, keys, [limit.get_expiry() for limit in limit_items])

    def lease(self, limit_items, identifiers, sizes):
        """Lease blocks of these limits' windows: [granted, milliseconds left, ...]."""
        keys = [key(limit, identifiers) for limit in limit_items]
        arguments = []
        for limit, size in zip(limit_items, sizes, strict=True):
            arguments += [limit.amount, size, limit.get_expiry()]
        return self.redis.eval(LEASE_SCRIPT, keys, arguments)

    def spent(self, limit, identifiers):
        [count] = self.redis.execute(("GET", key(limit, identifiers)))
        return int(count or 0) >= limit.amount

    def window(self, limit, identifiers):
        name = key(limit, identifiers)
        count, milliseconds = self.redis.execute(("GET", name), ("PTTL", name))
        return time.time() + max(milliseconds, 0) / 1000, max(0, limit.amount - int(count or 0))


def key(limit, identifiers):
    return f"{KEY_PREFIX}:{limit.key_for(*identifiers)}"


def open_windows(config):
    """Redis when REDIS_URL is set (rediss:// for TLS), else this process's memory."""
    if config["REDIS_URL"]:
        return RedisWindows(config["REDIS_URL"], config["REDIS_VERIFY_TLS"])
    return MemoryWindows()
