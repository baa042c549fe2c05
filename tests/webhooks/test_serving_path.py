"""The serving path's share of the event loop: group commits that take every request queued behind a
background writer, log lines written off the loop, the heap settled once, memory given back after bursts."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import logging.handlers
import uuid

import pytest
from sqlalchemy import func, select

from tests.support.harness import running
from touchpoint import runtime as runtime_module
from touchpoint.kit import memory
from touchpoint.kit.log_thread import LogWriter
from touchpoint.kit.memory import MemoryKeeper
from touchpoint.models import InboundEvent
from touchpoint.webhooks import batching


async def _hold_write_turn(runtime, release: asyncio.Event, held: asyncio.Event) -> None:
    async with runtime.transaction():  # a background writer (not urgent) in the middle of its work
        held.set()
        await release.wait()


async def _stored(runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(InboundEvent))).scalar_one())


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_webhooks_queued_behind_a_background_writer_share_one_commit(settings, db_kind, monkeypatch):
    if db_kind != "sqlite":
        pytest.skip("write turns exist on SQLite only (PostgreSQL has many writers)")
    batches: list[int] = []
    real_store_many = batching.store_many

    async def counting_store_many(session, requests):
        batches.append(len(requests))
        return await real_store_many(session, requests)

    monkeypatch.setattr(batching, "store_many", counting_store_many)
    async with running(settings, run_background=False) as h:
        release, held = asyncio.Event(), asyncio.Event()
        writer = asyncio.create_task(_hold_write_turn(h.runtime, release, held))
        await held.wait()
        posts = [asyncio.create_task(h.say(f"user-{n}", "hello", event_id=f"evt-{n}")) for n in range(5)]
        await _until(lambda: h.runtime._acks_pending == 5)  # all five wait for the write turn
        release.set()
        responses = await asyncio.gather(*posts)
        await writer
        assert [r.status_code for r in responses] == [200] * 5
        assert batches == [5]  # taken once the turn was ours: one commit, not the first alone then the rest
        assert await _stored(h.runtime) == 5


async def test_webhooks_answer_503_when_the_write_turn_never_comes(settings, db_kind, monkeypatch):
    if db_kind != "sqlite":
        pytest.skip("write turns exist on SQLite only (PostgreSQL has many writers)")
    monkeypatch.setattr(runtime_module, "WRITE_LOCK_TIMEOUT", 0.3)
    async with running(settings, run_background=False) as h:
        release, held = asyncio.Event(), asyncio.Event()
        writer = asyncio.create_task(_hold_write_turn(h.runtime, release, held))
        await held.wait()
        responses = await asyncio.gather(*(h.say(f"user-{n}", "hi", event_id=uuid.uuid4().hex) for n in range(3)))
        release.set()
        await writer
        assert [r.status_code for r in responses] == [503] * 3
        assert all(r.headers["retry-after"] == "2" for r in responses)
        assert await _stored(h.runtime) == 0
        # The provider's retry is stored once the database is free again.
        assert (await h.say("user-0", "hi again")).status_code == 200
        assert await _stored(h.runtime) == 1


def test_log_lines_are_written_by_a_thread_in_order_and_unchanged():
    logger = logging.getLogger("uvicorn.access")
    out = io.StringIO()
    console = logging.StreamHandler(out)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    captured = logging.handlers.BufferingHandler(1000)  # not a plain StreamHandler: left where it is
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = [console, captured]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        writer = LogWriter.start()
        try:
            assert isinstance(logger.handlers[0], logging.handlers.QueueHandler)
            assert logger.handlers[1] is captured
            for n in range(200):
                logger.info("request %s done", n)
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
        finally:
            writer.stop()
        assert logger.handlers == [console, captured]
        lines = out.getvalue().splitlines()
        assert lines[:200] == [f"INFO uvicorn.access: request {n} done" for n in range(200)]
        assert lines[200] == "ERROR uvicorn.access: failed"
        assert "ValueError: boom" in out.getvalue()
        assert len(captured.buffer) == 201
        logger.info("after stop")  # written directly again
        assert out.getvalue().endswith("INFO uvicorn.access: after stop\n")
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def test_heap_is_settled_once():
    memory.settle_heap()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    memory.settle_heap()  # once per process: a second app in the same process changes nothing
    assert gc.get_freeze_count() == frozen


async def test_memory_keeper_trims_after_growth_only():
    keeper = MemoryKeeper()
    if not keeper.available:
        pytest.skip("malloc_trim needs Linux with glibc")
    assert await keeper.check() is False  # nothing grew
    assert await keeper.check(force=True) is True
    assert keeper.trims == 1
    block = bytearray(MemoryKeeper.GROWTH_BYTES * 2)  # touched pages: resident
    assert await keeper.check() is True
    del block
    assert keeper.trims == 2
