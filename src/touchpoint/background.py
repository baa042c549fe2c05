"""The background loops of a process: inbound processing, outbox dispatch and timers.

`touchpoint serve` runs them inside the web process (embedded mode, exactly one dispatcher for SQLite);
`touchpoint worker` runs only them (PostgreSQL, any number of processes). Each loop drains its queue,
then sleeps until woken by a local commit or until the idle poll interval, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError, OperationalError

from touchpoint.assistant.base import Assistant
from touchpoint.assistant.training import TRAIN_LOOP
from touchpoint.assistant.training_worker import TrainingWorker
from touchpoint.conversations.action_worker import ActionWorker
from touchpoint.conversations.inbound_worker import InboundWorker
from touchpoint.conversations.sla import sla_handlers
from touchpoint.conversations.timers import TimerHandler, TimerWorker, snooze_handlers
from touchpoint.delivery.dispatcher import Dispatcher
from touchpoint.delivery.ratelimit import RateLimiter, make_rate_limiter
from touchpoint.kit.memory import MemoryKeeper
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
INTERRUPTIBLE = frozenset({TRAIN_LOOP})
TRAINING_STOP_GRACE_SECONDS = 60.0


def timer_handlers() -> dict[str, TimerHandler]:
    """Every timer kind this process fires, by kind (each domain contributes its own)."""
    return {**snooze_handlers(), **sla_handlers()}


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class BackgroundLoops:
    def __init__(self, runtime: Runtime, assistant: Assistant, limiter: RateLimiter | None = None) -> None:
        self.runtime = runtime
        self.owner = worker_id()
        self.limiter = limiter or make_rate_limiter(runtime.settings.redis_url)
        self.inbound = InboundWorker(runtime, assistant, self.owner)
        self.dispatcher = Dispatcher(runtime, self.limiter, self.owner)
        self.timers = TimerWorker(runtime, self.owner, timer_handlers())
        # Each loop drains one queue; a domain with its own queue (assistant training, flow actions) adds
        # its step here.
        self.steps: dict[str, Callable[[], Awaitable[int]]] = {
            "inbound": self.inbound.run_once, "outbox": self.dispatcher.run_once, "timers": self.timers.run_once}
        self.training = TrainingWorker(runtime, self.owner, heartbeat=lambda: self._beat(TRAIN_LOOP))
        if runtime.settings.assistant_training:
            self.steps[TRAIN_LOOP] = self.training.run_once
        # Flow actions: the brand's HTTP calls, made outside any transaction (woken as "actions").
        self.actions = ActionWorker(runtime, self.owner)
        self.steps["actions"] = self.actions.run_once
        self._tasks: list[asyncio.Task[None]] = []
        self.memory = MemoryKeeper()
        self._stopping = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.heartbeats: dict[str, float] = {}

    def _beat(self, name: str) -> None:
        self.heartbeats[name] = time.monotonic()  # a long step (model training) shows it is alive

    def start(self) -> None:
        for name, step in self.steps.items():
            self._tasks.append(asyncio.create_task(self._loop(name, step), name=f"touchpoint-{name}"))
        if self.runtime.settings.redis_url:
            self._listener = asyncio.create_task(self._listen_for_wakes(), name="touchpoint-wakes")
        if self.memory.available:
            self._tasks.append(asyncio.create_task(self._keep_memory(), name="touchpoint-memory"))
        self.runtime.state["loops"] = self

    async def _keep_memory(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), MemoryKeeper.CHECK_SECONDS)
            try:
                await self.memory.check()
            except Exception:  # housekeeping: never a reason to stop serving
                log.exception("memory housekeeping failed")

    def alive(self, max_age: float = 30.0) -> bool:
        now = time.monotonic()
        return bool(self._tasks) and all(not t.done() for t in self._tasks) and all(
            now - self.heartbeats.get(name, 0) < max_age for name in self.steps)

    async def _listen_for_wakes(self) -> None:
        """Scale-out: another process committed work for us (published by Runtime.after_commit)."""
        names = tuple(self.steps)
        while True:
            try:
                async with self.runtime.hub.subscribe(*(f"wake:{n}" for n in names)) as events:
                    async for event in events:
                        self.runtime.wake_event(event["topic"].split(":", 1)[1]).set()
            except asyncio.CancelledError:
                raise
            except Exception:  # polling still finds the work; keep trying to listen
                log.warning("wake listener lost its Redis subscription; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _loop(self, name: str, step: Callable[[], Awaitable[int]]) -> None:
        wake = self.runtime.wake_event(name)
        idle = self.runtime.settings.dispatch_idle_poll_seconds
        while not self._stopping.is_set():
            self.heartbeats[name] = time.monotonic()
            wake.clear()
            try:
                handled = await step()
            except asyncio.CancelledError:
                raise
            except (OperationalError, DBAPIError) as exc:
                log.warning("%s loop: database unavailable (%s); retrying in 1 s", name, exc.__class__.__name__)
                await asyncio.sleep(1.0)
                continue
            except Exception:
                log.exception("%s loop: batch failed; retrying in 1 s", name)
                await asyncio.sleep(1.0)
                continue
            if handled:
                if name == TRAIN_LOOP:  # a fit's arrays were just freed: give them back at once
                    with contextlib.suppress(Exception):
                        await self.memory.check(force=True)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=idle)

    async def stop(self) -> None:
        """Let each loop finish the batch in hand, then stop. Cancelling mid-batch would leave messages
        that were sent but not recorded leased, to be sent a second time when the lease runs out.
        Stopping twice (a signal, then the app's shutdown) is harmless."""
        if self._stopping.is_set() and not self._tasks:
            return
        self._stopping.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        for name in self.steps:
            self.runtime.wake(name)
        for task in self._tasks:
            # A training is not lost when cut short (its lease runs out and it starts again), and it can
            # take a minute: stopping never waits for it.
            if task.get_name() in {f"touchpoint-{name}" for name in INTERRUPTIBLE}:
                task.cancel()
        if self._tasks:
            grace = self.runtime.settings.provider_timeout_seconds + 5.0
            await asyncio.wait(self._tasks, timeout=grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        # A fit cannot be interrupted; exiting under it would kill native threads mid-call.
        await self.training.wait_idle(TRAINING_STOP_GRACE_SECONDS)
        await self.dispatcher.close()  # sends already paced go out and are recorded
        await self.limiter.close()
