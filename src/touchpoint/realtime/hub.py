"""Publish/subscribe for realtime events. Subscribers are browsers (agents, widget visitors).

Events are hints, not the record: a browser that missed some (disconnect, slow consumer) reloads from
the database, so a full subscriber queue drops the oldest event instead of blocking publishers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

log = logging.getLogger(__name__)
QUEUE_SIZE = 256


class Hub(Protocol):
    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...

    def subscribe(self, *topics: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...

    async def close(self) -> None: ...


class _LocalFanout:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def deliver(self, topic: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait({**event, "topic": topic})

    def add(self, topics: tuple[str, ...]) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        for topic in topics:
            self._subscribers[topic].add(queue)
        return queue

    def remove(self, topics: tuple[str, ...], queue: asyncio.Queue[dict[str, Any]]) -> list[str]:
        emptied = []
        for topic in topics:
            subs = self._subscribers.get(topic)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subscribers[topic]
                    emptied.append(topic)
        return emptied


async def _iterate(queue: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    while True:
        yield await queue.get()


class MemoryHub:
    """One process: the embedded mode."""

    def __init__(self) -> None:
        self._fanout = _LocalFanout()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        self._fanout.deliver(topic, event)

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue = self._fanout.add(topics)
        try:
            yield _iterate(queue)
        finally:
            self._fanout.remove(topics, queue)

    async def close(self) -> None:
        return None


class RedisHub:
    """Several processes: every publish goes through Redis; each process keeps one pub/sub connection
    and fans out locally to its own subscribers."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._fanout = _LocalFanout()
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self._redis.publish("tp:" + topic, json.dumps(event, default=str))

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue = self._fanout.add(topics)
        async with self._lock:
            await self._pubsub.subscribe(*("tp:" + t for t in topics))
            if self._reader is None:
                self._reader = asyncio.create_task(self._read())
        try:
            yield _iterate(queue)
        finally:
            emptied = self._fanout.remove(topics, queue)
            if emptied:
                async with self._lock:
                    await self._pubsub.unsubscribe(*("tp:" + t for t in emptied))

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("realtime: Redis pub/sub read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            topic = message["channel"].decode()[3:]
            try:
                self._fanout.deliver(topic, json.loads(message["data"]))
            except ValueError:
                log.warning("realtime: dropped a malformed event on %s", topic)

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()
        await self._redis.aclose()


def make_hub(redis_url: str | None) -> Hub:
    return RedisHub(redis_url) if redis_url else MemoryHub()
