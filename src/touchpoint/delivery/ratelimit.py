"""Nested rate limits: a send goes out only when every bucket it belongs to has room (channel account,
recipient, ...). GCRA (a token bucket stored as one timestamp): in memory for one process, in Redis
with an atomic Lua script when several workers share an account."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    per_second: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


class RateLimiter(Protocol):
    async def acquire(self, limits: list[Limit]) -> float:
        """Take one slot in every bucket and return 0, or take none and return seconds to wait."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, clock: type[time] | None = None) -> None:
        self._tat: dict[str, float] = {}  # theoretical arrival time per key

    async def acquire(self, limits: list[Limit]) -> float:
        now = time.monotonic()
        wait = 0.0
        for limit in limits:
            tat = max(self._tat.get(limit.key, now), now)
            allowed_at = tat - limit.interval * (limit.burst - 1)
            wait = max(wait, allowed_at - now)
        if wait > 0:
            return wait
        for limit in limits:
            tat = max(self._tat.get(limit.key, now), now)
            self._tat[limit.key] = tat + limit.interval
        return 0.0

    async def close(self) -> None:
        return None


# KEYS: bucket keys. ARGV: now (ms), then interval_ms and burst per key. Returns wait in ms (0 = taken).
_GCRA_LUA = """
local now = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local allowed_at = tat - interval * (burst - 1)
  if allowed_at - now > wait then wait = allowed_at - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local new_tat = tats[i] + interval
  redis.call('SET', key, new_tat, 'PX', math.ceil(interval * burst) + 1000)
end
return 0
"""


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "tp:rl:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._script = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix

    async def acquire(self, limits: list[Limit]) -> float:
        if not limits:
            return 0.0
        # Redis's own clock, so workers on several hosts agree.
        seconds, micros = await self._redis.time()
        now_ms = seconds * 1000 + micros / 1000
        args: list[float] = [now_ms]
        for limit in limits:
            args += [limit.interval * 1000, limit.burst]
        wait_ms = await self._script(keys=[self._prefix + lim.key for lim in limits], args=args)
        return float(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
