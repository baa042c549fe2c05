"""Nested rate limits: a send goes out only when every bucket it belongs to has room (channel account,
recipient, ...). GCRA (a token bucket stored as one timestamp): in memory for one process, in Redis
with an atomic Lua script when several workers share an account.

A limit may also cap the grants in any sliding window (`per_window` in `window` seconds), which is how
providers count ("80 messages per second"): GCRA spaces the grants and lets a late caller catch up, the
window cap guarantees the count whatever the catching up does.

Both take an optional `clock` (a callable returning seconds on a steady scale) so tests can drive them
with a fake clock. The in-memory default is time.monotonic; the Redis default is Redis's own TIME, so
workers on several hosts agree without synchronised clocks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]
# Bucket times accumulate one interval per grant; float rounding must not turn "exactly due" into a
# refusal of a nanosecond (a burst of ten granting only nine).
EPSILON_SECONDS = 1e-9


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    per_second: float
    burst: int = 1
    per_window: int = 0  # at most this many grants in any `window` seconds; 0: no such cap
    window: float = 1.0

    def __post_init__(self) -> None:
        # A zero or negative rate would divide by zero or grant without bound.
        if not self.per_second > 0:
            raise ValueError(f"rate limit {self.key!r}: per_second must be > 0, got {self.per_second!r}")
        if self.burst < 1:
            raise ValueError(f"rate limit {self.key!r}: burst must be >= 1, got {self.burst!r}")
        if self.per_window < 0 or not self.window > 0:
            raise ValueError(f"rate limit {self.key!r}: per_window must be >= 0 and window > 0")

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def sustained(self) -> float:
        """Grants per second in the long run."""
        return min(self.per_second, self.per_window / self.window) if self.per_window else self.per_second


class RateLimiter(Protocol):
    async def acquire(self, limits: list[Limit]) -> float:
        """Take one slot in every bucket and return 0, or take none and return seconds to wait."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """One process. GCRA per key: grant when the theoretical arrival time (tat) is at most
    (burst - 1) intervals ahead of now; each grant pushes tat one interval further. Window caps keep the
    times of the last `per_window` grants: full, the next grant waits until the oldest leaves the window."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or time.monotonic
        self._tat: dict[str, float] = {}  # theoretical arrival time per key
        self._grants: dict[str, deque[float]] = {}  # recent grant times per key with a window cap

    async def acquire(self, limits: list[Limit]) -> float:
        # No await between the check and the update: atomic within the event loop.
        now = self._clock()
        wait = 0.0
        for limit in limits:
            tat = max(self._tat.get(limit.key, now), now)
            allowed_at = tat - limit.interval * (limit.burst - 1)
            if limit.per_window:
                recent = self._grants.get(limit.key)
                if recent is not None and len(recent) >= limit.per_window:
                    allowed_at = max(allowed_at, recent[-limit.per_window] + limit.window)
            wait = max(wait, allowed_at - now)
        if wait > EPSILON_SECONDS:
            return wait
        for limit in limits:
            tat = max(self._tat.get(limit.key, now), now)
            self._tat[limit.key] = tat + limit.interval
            if limit.per_window:
                recent = self._grants.get(limit.key)
                if recent is None or recent.maxlen != limit.per_window:
                    recent = self._grants[limit.key] = deque(recent or (), maxlen=limit.per_window)
                recent.append(now)
        self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        # A bucket whose tat is in the past is full again, a window whose last grant has left it is
        # empty: dropping them changes nothing, and keeps one key per recipient from growing without
        # bound in a long-running process.
        if len(self._tat) > 10_000:
            self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
        if len(self._grants) > 10_000:
            self._grants = {key: times for key, times in self._grants.items() if times and times[-1] > now - 60}

    async def close(self) -> None:
        return None


# KEYS: bucket keys, then for each bucket the key of its recent-grants list. ARGV: now (ms), then
# interval_ms, burst, per_window and window_ms per bucket.
# Returns "0" when every bucket granted a slot, else the wait in ms as a string: Redis converts a Lua
# number reply to an integer by truncation, which would turn a 0.4 ms wait into "granted".
_GCRA_LUA = """
local now = tonumber(ARGV[1])
local epsilon = 1e-6
local wait = 0
local tats = {}
local buckets = #KEYS / 2
for i = 1, buckets do
  local key = KEYS[i]
  local interval = tonumber(ARGV[4 * i - 2])
  local burst = tonumber(ARGV[4 * i - 1])
  local per_window = tonumber(ARGV[4 * i])
  local window = tonumber(ARGV[4 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local allowed_at = tat - interval * (burst - 1)
  if per_window > 0 then
    local oldest = redis.call('LINDEX', KEYS[buckets + i], per_window - 1)
    if oldest and tonumber(oldest) + window > allowed_at then allowed_at = tonumber(oldest) + window end
  end
  if allowed_at - now > wait then wait = allowed_at - now end
end
if wait > epsilon then return string.format('%.17g', wait) end
for i = 1, buckets do
  local interval = tonumber(ARGV[4 * i - 2])
  local per_window = tonumber(ARGV[4 * i])
  local window = tonumber(ARGV[4 * i + 1])
  local new_tat = tats[i] + interval
  -- Once now passes new_tat the bucket is full again and the key is useless: let it expire then.
  redis.call('SET', KEYS[i], string.format('%.17g', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
  if per_window > 0 then
    local list = KEYS[buckets + i]
    redis.call('LPUSH', list, string.format('%.17g', now))
    redis.call('LTRIM', list, 0, per_window - 1)
    redis.call('PEXPIRE', list, math.ceil(window) + 1000)
  end
end
return '0'
"""


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "tp:rl:", clock: Clock | None = None) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._script = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._clock: Callable[[], Awaitable[float]] = self._redis_seconds if clock is None else _as_async(clock)

    async def _redis_seconds(self) -> float:
        # Redis's own clock, so workers on several hosts agree.
        seconds, micros = await self._redis.time()
        return float(seconds) + micros / 1_000_000

    async def acquire(self, limits: list[Limit]) -> float:
        if not limits:
            return 0.0
        now_ms = await self._clock() * 1000
        args: list[float] = [now_ms]
        for limit in limits:
            args += [limit.interval * 1000, limit.burst, limit.per_window, limit.window * 1000]
        keys = [self._prefix + lim.key for lim in limits] + [self._prefix + lim.key + ":w" for lim in limits]
        wait_ms = await self._script(keys=keys, args=args)
        return float(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def _as_async(clock: Clock) -> Callable[[], Awaitable[float]]:
    async def read() -> float:
        return clock()

    return read


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
