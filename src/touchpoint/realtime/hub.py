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

    def add(self, topics: tuple[str, ...]) -> tuple[asyncio.Queue[dict[str, Any]], list[str]]:
        """A new subscriber queue, and the topics that had no local subscriber until now."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        first = []
        for topic in dict.fromkeys(topics):
            if not self._subscribers.get(topic):
                first.append(topic)
            self._subscribers[topic].add(queue)
        return queue, first

    def remove(self, topics: tuple[str, ...], queue: asyncio.Queue[dict[str, Any]]) -> list[str]:
        """Drop a subscriber queue; returns the topics nobody here listens to any more."""
        emptied = []
        for topic in dict.fromkeys(topics):
            subs = self._subscribers.get(topic)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subscribers[topic]
                    emptied.append(topic)
        return emptied

    def topics(self) -> set[str]:
        return set(self._subscribers)


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
        queue, _ = self._fanout.add(topics)
        try:
            yield _iterate(queue)
        finally:
            self._fanout.remove(topics, queue)

    def active_topics(self) -> set[str]:
        return self._fanout.topics()

    async def close(self) -> None:
        return None


class RedisHub:
    """Several processes: every publish goes through Redis; each process keeps one pub/sub connection
    and fans out locally to its own subscribers.

    subscribe() returns once Redis has confirmed the subscription, so an event published anywhere after
    that reaches the subscriber. Changes to the Redis subscription happen under one lock, together
    with the local bookkeeping: otherwise the last subscriber of a topic leaving while a new one
    arrives could unsubscribe the newcomer from Redis.
    """

    PREFIX = "tp:"
    CONFIRM_TIMEOUT = 5.0

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._fanout = _LocalFanout()
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # Per Redis channel: SUBSCRIBE commands sent but not yet confirmed, and an event set at zero.
        self._pending: dict[str, tuple[list[int], asyncio.Event]] = {}

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self._redis.publish(self.PREFIX + topic, json.dumps(event, default=str))

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async with self._lock:
            queue, first = self._fanout.add(topics)
            confirmations = []
            try:
                if first:
                    channels = [self.PREFIX + t for t in first]
                    confirmations = [self._expect_confirmation(c) for c in channels]
                    await self._pubsub.subscribe(*channels)
                    if self._reader is None:
                        self._reader = asyncio.create_task(self._read(), name="touchpoint-realtime-redis")
            except BaseException:
                # Redis unreachable: leave no orphan queue or expected confirmation behind.
                self._fanout.remove(topics, queue)
                for topic in first:
                    self._pending.pop(self.PREFIX + topic, None)
                raise
        try:
            if confirmations:
                await self._await_confirmations(confirmations, first)
            yield _iterate(queue)
        finally:
            async with self._lock:
                emptied = self._fanout.remove(topics, queue)
                if emptied:
                    for topic in emptied:
                        self._forget_pending(self.PREFIX + topic)
                    try:
                        await self._pubsub.unsubscribe(*(self.PREFIX + t for t in emptied))
                    except Exception:
                        # Not fatal: events for the topic arrive and find no local subscriber.
                        log.warning("realtime: could not unsubscribe from %s", emptied, exc_info=True)

    def _expect_confirmation(self, channel: str) -> asyncio.Event:
        count, event = self._pending.setdefault(channel, ([0], asyncio.Event()))
        count[0] += 1
        event.clear()
        return event

    def _confirmed(self, channel: str) -> None:
        entry = self._pending.get(channel)
        if entry is None:
            return
        count, event = entry
        count[0] = max(count[0] - 1, 0)
        if count[0] == 0:
            event.set()
            if channel[len(self.PREFIX):] not in self._fanout.topics():
                del self._pending[channel]

    def _forget_pending(self, channel: str) -> None:
        entry = self._pending.get(channel)
        if entry is not None and entry[0][0] == 0:
            del self._pending[channel]

    async def _await_confirmations(self, events: list[asyncio.Event], topics: list[str]) -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=self.CONFIRM_TIMEOUT)
        except TimeoutError:
            # Events are hints and browsers reload from the database; do not refuse the subscriber.
            log.warning("realtime: Redis did not confirm the subscription to %s in time", topics)

    def active_topics(self) -> set[str]:
        return self._fanout.topics()

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("realtime: Redis pub/sub read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            kind = message.get("type")
            channel = message["channel"].decode() if isinstance(message.get("channel"), bytes) else ""
            if kind == "subscribe":
                self._confirmed(channel)
                continue
            if kind != "message" or not channel.startswith(self.PREFIX):
                continue
            topic = channel[len(self.PREFIX):]
            try:
                event = json.loads(message["data"])
            except ValueError:
                log.warning("realtime: dropped a malformed event on %s", topic)
                continue
            if isinstance(event, dict):
                self._fanout.deliver(topic, event)
            else:
                log.warning("realtime: dropped a non-object event on %s", topic)

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()
        await self._redis.aclose()


def make_hub(redis_url: str | None) -> Hub:
    return RedisHub(redis_url) if redis_url else MemoryHub()
