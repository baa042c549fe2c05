"""Group commit for webhooks: the events of requests that arrive while a commit is under way are stored
together in the next transaction, so N concurrent webhooks cost one durable commit (one fsync on SQLite)
instead of N. Each request still gets its answer only after its own events are committed.

There is no timer: a batch is whatever queued up while the previous commit (or the wait for the write
lock) was in progress, taken once the write turn is ours, so a lone webhook is stored at once and a burst
shares the cost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from touchpoint.channels.base import AccountContext, NormalizedEvent
from touchpoint.runtime import Runtime, writes_are_urgent
from touchpoint.webhooks.service import store_many

log = logging.getLogger(__name__)
MAX_REQUESTS_PER_COMMIT = 200


@dataclass(slots=True)
class _Waiting:
    account: AccountContext
    events: list[NormalizedEvent]
    done: asyncio.Future[int]


class WebhookCommitter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._queue: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

    async def store(self, account: AccountContext, events: list[NormalizedEvent]) -> int:
        """Store the events (duplicates ignored) and return how many were new, once committed. Raises what
        the database raised (OperationalError when it is busy or down)."""
        waiting = _Waiting(account, events, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="touchpoint-webhook-commits")
        self.runtime.acks_started()
        try:
            return await waiting.done
        finally:
            self.runtime.acks_finished()

    async def _flush(self) -> None:
        writes_are_urgent()  # this task only stores webhooks, whose providers wait for the 2xx
        while self._queue:
            batch: list[_Waiting] = []
            try:
                counts = await self._commit(batch)
            except Exception as exc:
                if not batch:  # no write turn (the lock wait timed out): nothing of the queue was tried
                    batch = self._take()
                    for waiting in batch:
                        _fail(waiting, exc)
                    continue
                if len(batch) == 1:
                    _fail(batch[0], exc)
                    continue
                # One request's rows may be what the database refused: store each alone, so that only
                # that request fails (and its provider retries) while the others succeed.
                log.warning("webhook group commit of %s requests failed (%s); storing them one by one",
                            len(batch), exc.__class__.__name__)
                for waiting in batch:
                    try:
                        _succeed(waiting, (await self._commit([waiting]))[0])
                    except Exception as single:
                        _fail(waiting, single)
                continue
            for waiting, count in zip(batch, counts, strict=True):
                _succeed(waiting, count)

    def _take(self) -> list[_Waiting]:
        batch = self._queue[:MAX_REQUESTS_PER_COMMIT]
        del self._queue[:MAX_REQUESTS_PER_COMMIT]
        return batch

    async def _commit(self, batch: list[_Waiting]) -> list[int]:
        """Commit `batch`; an empty list is filled from the queue once the write turn is ours, so the
        requests that arrived while we waited for it (behind a background transaction) go in this commit
        rather than waiting for the next one."""
        async with self.runtime.transaction() as session:
            if not batch:
                batch.extend(self._take())
            return await store_many(session, [(waiting.account, waiting.events) for waiting in batch])


def _succeed(waiting: _Waiting, count: int) -> None:
    if not waiting.done.done():  # the request may have been cancelled (client went away)
        waiting.done.set_result(count)


def _fail(waiting: _Waiting, exc: Exception) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(exc)


def committer_of(runtime: Runtime) -> WebhookCommitter:
    committer = runtime.state.get("webhook_committer")
    if committer is None:
        committer = runtime.state["webhook_committer"] = WebhookCommitter(runtime)
    return committer  # type: ignore[no-any-return]
