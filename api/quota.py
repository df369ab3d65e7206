"""Blocks of a token's rate-limit quota, leased from Redis, so most requests need no round trip.

A worker takes a small block of each window's quota from the shared counter in one atomic
script call, serves requests from it in memory, and goes back to Redis only when its block is
used up or its window has ended. The counter in Redis is what every worker of every instance
has leased, and the script never leases past the limit, so the requests served in a window
never exceed it in sum. Quota another worker leased and has not used yet is not available to
this one: the limit can only be stricter, by at most (processes - 1) x (block - 1) a window.
"""

import threading
import time

# A block is 1/16 of a window's limit, at most 32 requests: one lease per 32 requests costs a
# GET about 1/32 of a round trip, and leaves little quota idle in other workers.
BLOCK_SHARE = 16
MAX_BLOCK = 32
# Once less than TAPER blocks are left in a window, blocks shrink to 1/TAPER of what is left,
# so that busy workers hold little unused quota when the window runs out.
TAPER = 8
# Past this many blocks in memory, the ones whose window has ended are dropped.
PRUNE_AT = 1000
# For each key (a window's counter) and its ARGV triple (limit, block, window in seconds):
# lease min(block, what is left, what is left / TAPER, but at least 1), start the window's
# expiry on its first lease, and answer the lease and the window's milliseconds left, flat.
LEASE_SCRIPT = f"""
local answers = {{}}
for index, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[3 * index - 2])
    local left = limit - tonumber(redis.call("GET", key) or "0")
    local granted = math.max(0, math.min(tonumber(ARGV[3 * index - 1]), left,
                                         math.max(1, math.floor(left / {TAPER}))))
    if granted > 0 then
        redis.call("INCRBY", key, granted)
    end
    local milliseconds = redis.call("PTTL", key)
    if milliseconds < 0 then
        redis.call("EXPIRE", key, ARGV[3 * index])
        milliseconds = tonumber(ARGV[3 * index]) * 1000
    end
    answers[2 * index - 1] = granted
    answers[2 * index] = milliseconds
end
return answers
"""


def block_size(limit):
    """Requests a worker leases at a time for this limit."""
    return max(1, min(MAX_BLOCK, limit.amount // BLOCK_SHARE))


class Block:
    """What this worker may still serve in one window of one limit, and when the window ends."""

    __slots__ = ("left", "ends_at", "exhausted")

    def __init__(self, left, ends_at):
        self.left = left
        self.ends_at = ends_at  # time.monotonic(), never later than the window's end in Redis
        self.exhausted = left == 0  # Redis had nothing left: refuse without asking until ends_at


class LeasedQuota:
    """This worker's blocks of each token's windows, for a list of limits."""

    def __init__(self, limit_items, lease):
        self.limit_items = limit_items
        self.sizes = [block_size(limit) for limit in limit_items]
        self.lease = lease  # (identifier, [limit indexes], [amounts wanted]) -> [granted, ms, ...]
        self.blocks = {}
        # One lease in flight per worker: the threads of a gthread worker share its blocks.
        self.lock = threading.Lock()

    def take(self, identifier):
        """Count one request: None if it may go ahead, else (limit, seconds to the window's end)."""
        with self.lock:
            now = time.monotonic()  # before the lease: a window's end is never guessed late
            blocks = [self.blocks.get((identifier, index)) for index in range(len(self.sizes))]
            blocks = [None if block and block.ends_at <= now else block for block in blocks]
            if refusal := self.refusal(blocks, now):
                return refusal
            if any(block is None or not block.left for block in blocks):
                if not self.refill(identifier, blocks, now):  # the store failed: unchecked
                    return None
                if refusal := self.refusal(blocks, now):
                    return refusal
            for block in blocks:
                block.left -= 1
            return None

    def refill(self, identifier, blocks, now):
        """Lease what each block lacks, in place; False if the store did not answer.

        Every block of the token is topped up to full in the same call, so that the blocks of
        its limits run out together: one lease, not one a limit, each block's worth of requests.
        """
        wanted = [
            size - (block.left if block else 0)
            for block, size in zip(blocks, self.sizes, strict=True)
        ]
        short = [index for index, amount in enumerate(wanted) if amount > 0]
        answer = self.lease(identifier, short, [wanted[index] for index in short])
        if answer is None:
            return False
        for position, index in enumerate(short):
            granted, milliseconds = answer[2 * position], answer[2 * position + 1]
            blocks[index] = self.add(
                identifier, index, blocks[index], granted, now + milliseconds / 1000
            )
        return True

    def refusal(self, blocks, now):
        for index, block in enumerate(blocks):
            if block is not None and block.exhausted and now < block.ends_at:
                return self.limit_items[index], block.ends_at - now
        return None

    def add(self, identifier, index, block, granted, ends_at):
        """The block after a lease: more of the same window, or a new window's."""
        window = self.limit_items[index].get_expiry()
        if block is None or block.ends_at <= ends_at - window / 2:
            if len(self.blocks) >= PRUNE_AT:
                self.prune()
            block = self.blocks[identifier, index] = Block(granted, ends_at)
        else:
            block.left += granted
            block.exhausted = block.left == 0
            block.ends_at = min(block.ends_at, ends_at)
        return block

    def prune(self):
        now = time.monotonic()
        for key in [key for key, block in self.blocks.items() if block.ends_at <= now]:
            del self.blocks[key]
