"""Rate limiters (GCRA) in memory and in Redis, driven by a fake clock: never more grants in any window
than the rate and burst allow, nested limits take a slot in every bucket or in none, the wait they
return is the real wait, and two Redis limiters (two workers) share one budget.

Redis runs when TOUCHPOINT_TEST_REDIS_URL is set; set but unreachable is a failure, not a skip."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from touchpoint.delivery.ratelimit import Limit, MemoryRateLimiter, RateLimiter, RedisRateLimiter

REDIS_URL = os.environ.get("TOUCHPOINT_TEST_REDIS_URL")
TICK = 1 / 256  # exact in binary floating point, so window edges are not blurred by rounding


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def max_in_window(times: list[float], window: float) -> int:
    """The most grants inside any half-open window [t, t + window) that starts at a grant."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def bound(limit: Limit, window: float) -> int:
    """GCRA admits at most burst - 1 + ceil(window / interval) grants in a window of that length."""
    return limit.burst - 1 + math.ceil(window / limit.interval)


@contextlib.asynccontextmanager
async def limiter_factory(kind: str) -> AsyncIterator[Callable[[FakeClock], RateLimiter]]:
    """Makes limiters on a fake clock; Redis ones share a fresh key prefix, deleted afterwards."""
    made: list[RateLimiter] = []
    prefix = f"tp:test:{uuid.uuid4().hex[:10]}:"
    if kind == "redis":
        if not REDIS_URL:
            pytest.skip("TOUCHPOINT_TEST_REDIS_URL is not set: Redis variant skipped")
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        await client.ping()  # set but unreachable: fail loudly

    def make(clock: FakeClock) -> RateLimiter:
        limiter: RateLimiter = (MemoryRateLimiter(clock=clock) if kind == "memory"
                                else RedisRateLimiter(REDIS_URL or "", prefix=prefix, clock=clock))
        made.append(limiter)
        return limiter

    try:
        yield make
    finally:
        for limiter in made:
            await limiter.close()
        if kind == "redis":
            keys = [key async for key in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limiters(request) -> AsyncIterator[Callable[[FakeClock], RateLimiter]]:
    async with limiter_factory(request.param) as make:
        yield make


@pytest.fixture
async def redis_limiters() -> AsyncIterator[Callable[[FakeClock], RateLimiter]]:
    async with limiter_factory("redis") as make:
        yield make


@pytest.mark.parametrize("burst", [1, 3])
async def test_never_more_grants_than_the_limit_in_any_window(limiters, burst):
    clock = FakeClock()
    limiter = limiters(clock)
    limit = Limit("acct:1", per_second=16, burst=burst)
    granted = []
    for _ in range(3 * 256):  # three seconds, two attempts per tick
        clock.advance(TICK)
        for _ in range(2):
            if await limiter.acquire([limit]) == 0:
                granted.append(clock.now)
    for window in (0.25, 1.0, 2.0):
        assert max_in_window(granted, window) <= bound(limit, window), window
    # ...and it does grant the rate it promises (not just refuse everything).
    assert len(granted) >= 3 * 16


async def test_the_returned_wait_is_the_real_wait(limiters):
    clock = FakeClock()
    limiter = limiters(clock)
    limit = Limit("rcpt:1:a", per_second=4)
    assert await limiter.acquire([limit]) == 0
    wait = await limiter.acquire([limit])
    assert wait == pytest.approx(0.25, abs=1e-3)
    clock.advance(wait / 2)
    assert await limiter.acquire([limit]) > 0
    clock.advance(wait / 2 + 1e-3)
    assert await limiter.acquire([limit]) == 0


async def test_a_sub_millisecond_wait_is_still_a_refusal(limiters):
    # Redis turns a fractional Lua reply into an integer: a 0.5 ms wait once came back as 0 = granted.
    clock = FakeClock()
    limiter = limiters(clock)
    limit = Limit("fast", per_second=2_000)
    assert await limiter.acquire([limit]) == 0
    wait = await limiter.acquire([limit])
    assert 0 < wait <= 0.0005 + 1e-6


async def test_nested_limits_take_every_bucket_or_none(limiters):
    clock = FakeClock()
    limiter = limiters(clock)
    account = Limit("acct:9", per_second=10, burst=10)

    def recipient(name: str) -> Limit:
        return Limit(f"rcpt:9:{name}", per_second=1)

    # One recipient gets one message per second however hard it is asked...
    assert await limiter.acquire([account, recipient("x")]) == 0
    for _ in range(50):
        assert await limiter.acquire([account, recipient("x")]) > 0
    # ...and those refusals took nothing from the account: nine others still fit in its burst of ten.
    for name in "abcdefghi":
        assert await limiter.acquire([account, recipient(name)]) == 0
    assert await limiter.acquire([account, recipient("j")]) > 0  # now the account is full


async def test_nested_limits_hold_in_a_tight_loop(limiters):
    clock = FakeClock()
    limiter = limiters(clock)
    account = Limit("acct:2", per_second=32, burst=4)
    recipients = {name: Limit(f"rcpt:2:{name}", per_second=8, burst=2) for name in ("a", "b", "c", "d", "e")}
    granted: dict[str, list[float]] = {name: [] for name in recipients}
    for step in range(2 * 256):
        clock.advance(TICK)
        name = "abcde"[step % 5] if step % 3 else "a"  # "a" is asked for far more than the others
        if await limiter.acquire([account, recipients[name]]) == 0:
            granted[name].append(clock.now)
    every = [t for times in granted.values() for t in times]
    assert max_in_window(every, 1.0) <= bound(account, 1.0)
    for name, times in granted.items():
        assert max_in_window(times, 1.0) <= bound(recipients[name], 1.0), name
    assert len(every) >= 2 * 32 - 1


async def test_two_redis_limiters_share_one_budget(redis_limiters):
    clock = FakeClock()
    first, second = redis_limiters(clock), redis_limiters(clock)
    limit = Limit("acct:shared", per_second=20, burst=2)
    granted: list[float] = []
    per_worker = {"first": 0, "second": 0}

    async def worker(name: str, limiter: RateLimiter) -> None:
        for _ in range(2 * 256):
            # Read the clock and send the script with no await in between; the other worker's calls
            # interleave with ours at the network round trip.
            now = clock.advance(TICK / 2)  # together: two seconds
            if await limiter.acquire([limit]) == 0:
                granted.append(now)
                per_worker[name] += 1

    await asyncio.gather(worker("first", first), worker("second", second))
    assert max_in_window(granted, 1.0) <= bound(limit, 1.0)
    assert max_in_window(granted, 0.5) <= bound(limit, 0.5)
    assert len(granted) >= 2 * 20 - 1
    assert per_worker["first"] and per_worker["second"]


async def test_redis_limiter_uses_the_redis_clock_by_default():
    if not REDIS_URL:
        pytest.skip("TOUCHPOINT_TEST_REDIS_URL is not set: Redis variant skipped")
    limiter = RedisRateLimiter(REDIS_URL, prefix=f"tp:test:{uuid.uuid4().hex[:10]}:")
    try:
        limit = Limit("slow", per_second=0.01, burst=1)  # one per 100 s: no risk of a slow machine
        assert await limiter.acquire([limit]) == 0
        assert 0 < await limiter.acquire([limit]) <= 100
    finally:
        await limiter._redis.delete(limiter._prefix + "slow")
        await limiter.close()


async def test_the_window_cap_holds_however_the_bucket_catches_up(limiters):
    # As the dispatcher sets up accounts: a bucket a little faster than the cap, with a burst so a caller
    # that comes late (a GC, a busy loop) catches up. Asked in bursts with pauses, it never grants more
    # than the cap in any window, and on average it still reaches the cap.
    clock = FakeClock()
    limiter = limiters(clock)
    limit = Limit("acct:w", per_second=32, burst=4, per_window=30, window=1.0)
    granted: list[float] = []
    for step in range(4 * 256):  # four seconds; every half second the caller goes away for 78 ms
        clock.advance(TICK)
        if step % 128 < 20:
            continue
        for _ in range(3):
            if await limiter.acquire([limit]) == 0:
                granted.append(clock.now)
    for window in (1.0, 0.5):
        assert max_in_window(granted, window) <= 30, window
    assert len(granted) >= 4 * 30 - 4  # the pauses cost (almost) nothing


async def test_a_full_window_tells_the_real_wait(limiters):
    clock = FakeClock()
    limiter = limiters(clock)
    limit = Limit("acct:v", per_second=1000, burst=10, per_window=10, window=1.0)
    first = clock.now
    for _ in range(10):
        assert await limiter.acquire([limit]) == 0
        clock.advance(0.01)
    # The eleventh must wait until the first grant leaves the window.
    wait = await limiter.acquire([limit])
    assert wait == pytest.approx(first + 1.0 - clock.now, abs=1e-3)
    clock.advance(wait + 1e-3)
    assert await limiter.acquire([limit]) == 0


def test_limits_refuse_nonsense():
    for per_second, burst in ((0, 1), (-1, 1), (1, 0)):
        with pytest.raises(ValueError):
            Limit("x", per_second, burst)
    with pytest.raises(ValueError):
        Limit("x", 1, 1, per_window=-1)
    with pytest.raises(ValueError):
        Limit("x", 1, 1, per_window=1, window=0)
