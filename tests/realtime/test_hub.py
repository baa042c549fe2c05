"""The realtime hub, in memory (embedded mode) and over Redis (several processes): subscribers get the
events of their topics and nothing else; two Redis hubs (two processes' worth) see each other's events;
a subscriber that does not read never blocks publishers (it loses its oldest events instead: events are
hints, browsers reload from the database); leaving cleans up, locally and in Redis.

Redis runs when TOUCHPOINT_TEST_REDIS_URL is set; set but unreachable is a failure, not a skip."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support.servers import eventually
from touchpoint.realtime import hub as hub_module
from touchpoint.realtime.hub import MemoryHub, RedisHub

REDIS_URL = os.environ.get("TOUCHPOINT_TEST_REDIS_URL")
# A guard against a hang, not a timing assertion: anything correct finishes in milliseconds.
HANG = 10.0


def topic(name: str) -> str:
    """Redis channels are shared by everything using the server: every test gets its own topics."""
    return f"test:{uuid.uuid4().hex[:8]}:{name}"


async def next_event(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(events), HANG)


async def nothing_waiting(events: AsyncIterator[dict[str, Any]]) -> bool:
    """True when no event is queued for this subscriber (checked without waiting for one to come)."""
    task = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    if task.done():
        return False
    task.cancel()
    return True


@contextlib.asynccontextmanager
async def redis_hub_factory() -> AsyncIterator[Callable[[], RedisHub]]:
    if not REDIS_URL:
        pytest.skip("TOUCHPOINT_TEST_REDIS_URL is not set: Redis variant skipped")
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()  # set but unreachable: fail loudly
    finally:
        await client.aclose()
    made: list[RedisHub] = []

    def make() -> RedisHub:
        made.append(RedisHub(REDIS_URL or ""))
        return made[-1]

    try:
        yield make
    finally:
        for made_hub in made:
            await made_hub.close()


@pytest.fixture
async def redis_hubs() -> AsyncIterator[Callable[[], RedisHub]]:
    async with redis_hub_factory() as make:
        yield make


@pytest.fixture(params=["memory", "redis"])
async def hub_pair(request) -> AsyncIterator[tuple[Any, Any]]:
    """(publisher side, subscriber side): one hub in memory; two Redis hubs, as two processes have."""
    if request.param == "memory":
        memory = MemoryHub()
        yield memory, memory
        return
    async with redis_hub_factory() as make:
        yield make(), make()


async def test_subscribers_get_their_topics_and_nothing_else(hub_pair):
    publisher, subscriber = hub_pair
    rooms, lobby, elsewhere = topic("conv:1"), topic("ws:1"), topic("conv:2")
    async with subscriber.subscribe(rooms, lobby) as both, subscriber.subscribe(rooms) as only_rooms:
        await publisher.publish(elsewhere, {"type": "message", "message_id": 0})
        await publisher.publish(rooms, {"type": "message", "message_id": 1})
        await publisher.publish(lobby, {"type": "conversation", "change": "opened"})
        assert await next_event(both) == {"type": "message", "message_id": 1, "topic": rooms}
        assert await next_event(both) == {"type": "conversation", "change": "opened", "topic": lobby}
        assert await next_event(only_rooms) == {"type": "message", "message_id": 1, "topic": rooms}
        # The event of the other topic went nowhere; a marker published last proves it was not queued.
        await publisher.publish(rooms, {"type": "marker"})
        assert (await next_event(only_rooms))["type"] == "marker"
        assert (await next_event(both))["type"] == "marker"
        assert await nothing_waiting(both) and await nothing_waiting(only_rooms)


async def test_a_subscriber_that_does_not_read_never_blocks_publishers(hub_pair, monkeypatch):
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 8)
    publisher, subscriber = hub_pair
    busy = topic("conv:busy")
    async with subscriber.subscribe(busy) as slow, subscriber.subscribe(busy) as fast:
        for n in range(100):
            await asyncio.wait_for(publisher.publish(busy, {"n": n}), HANG)
            assert (await next_event(fast))["n"] == n  # a reader keeps up, whatever the other does
        # The one that never read kept only the newest events, in order.
        assert [(await next_event(slow))["n"] for _ in range(8)] == list(range(92, 100))
        assert await nothing_waiting(slow)


async def test_leaving_cleans_up(hub_pair):
    publisher, subscriber = hub_pair
    first, second = topic("conv:a"), topic("conv:b")
    async with subscriber.subscribe(first, second) as events:
        await publisher.publish(first, {"n": 1})
        assert (await next_event(events))["n"] == 1
        async with subscriber.subscribe(first):
            pass
        assert subscriber.active_topics() >= {first, second}  # the other subscriber still listens
    assert not subscriber.active_topics() & {first, second}
    await publisher.publish(first, {"n": 2})  # nobody listening: fine


async def test_two_redis_hubs_see_each_others_events(redis_hubs):
    web, worker = redis_hubs(), redis_hubs()
    shared = topic("conv:7")
    async with web.subscribe(shared) as on_web, worker.subscribe(shared) as on_worker:
        await worker.publish(shared, {"from": "worker"})
        await web.publish(shared, {"from": "web"})
        assert [(await next_event(on_web))["from"] for _ in range(2)] == ["worker", "web"]
        assert [(await next_event(on_worker))["from"] for _ in range(2)] == ["worker", "web"]


async def test_redis_subscription_is_live_when_subscribe_returns(redis_hubs):
    # No probing, no sleeping: an event published by another process right after subscribe() returns
    # must arrive. subscribe() waits for Redis's confirmation; without that wait this held only as long
    # as Redis happened to read the SUBSCRIBE before the other connection's PUBLISH.
    listener, speaker = redis_hubs(), redis_hubs()
    for n in range(20):
        fresh = topic(f"visitor:{n}")
        async with listener.subscribe(fresh) as events:
            await speaker.publish(fresh, {"n": n})
            assert (await next_event(events))["n"] == n


async def test_redis_unsubscribes_when_the_last_local_subscriber_leaves(redis_hubs):
    import redis.asyncio as redis

    hub = redis_hubs()
    watched = topic("conv:9")
    channel = RedisHub.PREFIX + watched
    client = redis.from_url(REDIS_URL or "")

    async def redis_subscribers() -> int:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)

    try:
        async with hub.subscribe(watched), hub.subscribe(watched):
            assert await redis_subscribers() == 1  # one connection per process, however many subscribers
        await eventually(lambda: _is_zero(redis_subscribers()))
        # Malformed events from elsewhere on our channels are dropped; the reader keeps going.
        async with hub.subscribe(watched) as events:
            await client.publish(channel, b"not json")
            await client.publish(channel, b"[1, 2]")
            await client.publish(channel, b'{"ok": true}')
            assert await next_event(events) == {"ok": True, "topic": watched}
    finally:
        await client.aclose()


async def _is_zero(count: Any) -> bool:
    return await count == 0


async def test_redis_down_at_subscribe_leaves_nothing_behind():
    hub = RedisHub("redis://127.0.0.1:1/0")  # nothing listens on port 1
    lost = topic("conv:x")
    try:
        with pytest.raises(Exception):  # noqa: B017 - the client's connection error, whatever its class
            async with hub.subscribe(lost):
                pass
        assert hub.active_topics() == set()
    finally:
        await hub.close()
