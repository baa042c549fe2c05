"""The pacer (delivery/pacing.py) with a scripted limiter: a cold account sends one message before the
rest, a recipient's own limit does not hold up the account's other recipients, a send that would wait
too long goes back to the table, and without its limiter nothing goes out."""

from __future__ import annotations

import asyncio
import time

from tests.support.servers import eventually
from touchpoint.delivery.batches import Job
from touchpoint.delivery.pacing import Pacer
from touchpoint.delivery.ratelimit import Limit


class ScriptedLimiter:
    """Grants everything except keys listed in `waits` (seconds to wait); `broken` raises instead."""

    def __init__(self, waits: dict[str, float] | None = None, broken: bool = False) -> None:
        self.waits = waits or {}
        self.broken = broken

    async def acquire(self, limits: list[Limit]) -> float:
        if self.broken:
            raise ConnectionError("redis went away")
        return max((self.waits.get(limit.key, 0.0) for limit in limits), default=0.0)

    async def close(self) -> None:
        return None


def job(number: int, account: int = 1, recipient: str | None = None) -> Job:
    limits = [Limit(f"acct:{account}", 100.0)]
    if recipient:
        limits.append(Limit(f"rcpt:{account}:{recipient}", 1.0))
    return Job(number, number, account, f"key-{number}", 1, number, f"text {number}", {}, recipient or f"r{number}",
               claimed_at=time.monotonic(), limits=limits)


class Recorder:
    def __init__(self) -> None:
        self.started: list[int] = []
        self.deferred: list[tuple[int, float]] = []

    def start(self, job: Job) -> None:
        self.started.append(job.outbox_id)

    def defer(self, job: Job, wait: float) -> None:
        self.deferred.append((job.outbox_id, wait))


def pacer(limiter: ScriptedLimiter, seen: Recorder, max_in_flight: int = 64) -> Pacer:
    return Pacer(limiter, seen.start, seen.defer, max_in_flight=max_in_flight, max_wait=2.0)


async def test_a_cold_account_sends_one_message_before_the_rest():
    seen = Recorder()
    p = pacer(ScriptedLimiter(), seen)
    jobs = [job(n) for n in range(5)]
    p.add(jobs)
    await eventually(lambda: seen.started == [0])
    await asyncio.sleep(0.05)
    assert seen.started == [0]  # its connection is being set up: the rest would arrive in one bunch
    p.finished(jobs[0])
    await eventually(lambda: seen.started == [0, 1, 2, 3, 4])
    await p.drain()


async def test_a_recipient_limit_does_not_hold_up_the_accounts_other_recipients():
    seen = Recorder()
    p = pacer(ScriptedLimiter({"rcpt:1:busy": 1.5}), seen)
    p.warm_until[1] = time.monotonic() + 60
    p.add([job(1, recipient="busy"), job(2, recipient="calm"), job(3, recipient="other")])
    await eventually(lambda: seen.started == [2, 3])
    assert seen.deferred == []  # the busy one waits its turn (1.5 s is within max_wait)
    p.limiter.waits.clear()  # type: ignore[attr-defined]
    await eventually(lambda: seen.started == [2, 3, 1], timeout=5)


async def test_a_send_that_would_wait_too_long_goes_back_to_the_table():
    seen = Recorder()
    p = pacer(ScriptedLimiter({"acct:1": 30.0}), seen)
    p.warm_until[1] = time.monotonic() + 60
    p.add([job(1), job(2)])
    await p.drain()
    assert seen.started == [] and [number for number, _ in seen.deferred] == [1, 2]
    assert all(wait == 30.0 for _, wait in seen.deferred)


async def test_without_its_limiter_nothing_goes_out():
    seen = Recorder()
    p = pacer(ScriptedLimiter(broken=True), seen)
    p.add([job(1), job(2), job(3, account=2)])
    await p.drain()
    assert seen.started == [] and sorted(number for number, _ in seen.deferred) == [1, 2, 3]
    assert not p.busy()


async def test_sends_in_flight_are_capped():
    seen = Recorder()
    p = pacer(ScriptedLimiter(), seen, max_in_flight=2)
    for account in (1, 2, 3):
        p.warm_until[account] = time.monotonic() + 60
    jobs = [job(n, account=1 + n % 3) for n in range(6)]
    p.add(jobs)
    await eventually(lambda: len(seen.started) == 2)
    await asyncio.sleep(0.05)
    assert len(seen.started) == 2
    for number in list(seen.started):
        p.finished(jobs[number])
    await eventually(lambda: len(seen.started) == 4)
    for number in seen.started[2:]:
        p.finished(jobs[number])
    await p.drain()
    assert len(seen.started) == 6
