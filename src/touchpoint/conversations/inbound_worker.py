"""Claims stored inbound events and runs them through the processor.

A claimed batch is processed in short transactions (about 10 ms of work each): an event's effects and its
"done" mark commit together, so a crash never applies an event twice. When an event fails, its chunk is
rolled back and redone with a savepoint per event, so the bad one rolls back alone and is retried with
backoff, then marked failed with its error for an operator to see.
"""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import timedelta

from touchpoint.assistant.base import Assistant
from touchpoint.conversations.prereading import Prereader
from touchpoint.conversations.processor import ReceiptNotMatchedYet, process_event
from touchpoint.db import queue
from touchpoint.kit.clock import utcnow
from touchpoint.models import InboundEvent
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
RECEIPT_RETRY_SECONDS = 1.0
# How long one processing transaction may hold the database before it commits and lets others write.
TRANSACTION_BUDGET_SECONDS = 0.01
# Before each transaction, wait at most this long for webhooks waiting to be stored (Runtime.after_pending_acks).
ACK_PRIORITY_SECONDS = 0.05
# Read messages ahead of their transaction (prereading.py). TOUCHPOINT_INBOUND_READ_AHEAD=0 turns it off, to compare.
READ_AHEAD = os.environ.get("TOUCHPOINT_INBOUND_READ_AHEAD", "1") != "0"


class InboundWorker:
    def __init__(self, runtime: Runtime, assistant: Assistant, owner: str, batch_size: int = 100) -> None:
        self.runtime = runtime
        self.assistant = assistant
        self.owner = owner
        self.batch_size = batch_size
        self.failures = 0

    async def run_once(self) -> int:
        async with self.runtime.transaction() as session:
            rows = await queue.claim(session, InboundEvent, owner=self.owner, now=utcnow(),
                                     lease_seconds=self.runtime.settings.dispatch_lease_seconds,
                                     limit=self.batch_size)
        if not rows:
            return 0
        failed: list[tuple[InboundEvent, str]] = []
        early: list[tuple[InboundEvent, str]] = []
        pending = list(rows)
        # The messages' understanding, read ahead in a thread one group at a time (see prereading.py).
        prereads = await Prereader.start(self.runtime, self.assistant, rows) if READ_AHEAD else Prereader([])
        try:
            while pending:
                # Several short transactions rather than one per batch: on SQLite a transaction holds the
                # only write lock, and webhooks waiting behind a 100-event batch would wait its whole length.
                chunk: list[InboundEvent] = []
                await prereads.wait_for(pending[0])  # never inside the transaction
                await self.runtime.after_pending_acks(ACK_PRIORITY_SECONDS)
                try:
                    async with self.runtime.transaction() as session:
                        started = time.monotonic()
                        while (pending and time.monotonic() - started < TRANSACTION_BUDGET_SECONDS
                               and (not chunk or prereads.ready(pending[0]))):
                            chunk.append(row := pending.pop(0))
                            await prereads.wait_for(row)  # only the first row can wait: the others are ready
                            await process_event(session, self.assistant, row, utcnow(), preread=prereads.get(row))
                        # The effects and the done marks of the chunk commit together, as one statement marks all.
                        await queue.complete_many(session, InboundEvent, [row.id for row in chunk], owner=self.owner)
                except Exception:
                    # Nothing of the chunk was committed. Savepoints cost two statements and a flush per
                    # event, so they are paid only now: each event again in its own, so only the bad one fails.
                    await self._one_by_one(chunk, failed, early, prereads)
        finally:
            await prereads.close()
        if failed:
            await self._retry_or_fail(failed)
        if early:
            await self._retry_early_receipts(early)
        return len(rows)

    async def _one_by_one(self, rows: list[InboundEvent], failed: list[tuple[InboundEvent, str]],
                          early: list[tuple[InboundEvent, str]], prereads: Prereader) -> None:
        async with self.runtime.transaction() as session:
            for row in rows:
                try:
                    async with session.begin_nested():
                        await process_event(session, self.assistant, row, utcnow(), preread=prereads.get(row))
                        await queue.complete(session, InboundEvent, row.id, owner=self.owner)
                except ReceiptNotMatchedYet as exc:
                    early.append((row, str(exc)))
                except Exception as exc:
                    log.exception("inbound event %s failed (attempt %s)", row.id, row.attempts)
                    failed.append((row, f"{type(exc).__name__}: {exc}"))

    async def _retry_early_receipts(self, early: list[tuple[InboundEvent, str]]) -> None:
        async with self.runtime.transaction() as session:
            for row, reason in early:
                await queue.retry_later(session, InboundEvent, row.id, owner=self.owner, refund_attempt=True,
                                        at=utcnow() + timedelta(seconds=RECEIPT_RETRY_SECONDS), error=reason)

    async def _retry_or_fail(self, failed: list[tuple[InboundEvent, str]]) -> None:
        async with self.runtime.transaction() as session:
            for row, error in failed:
                self.failures += 1
                if row.attempts >= MAX_ATTEMPTS:
                    await queue.complete(session, InboundEvent, row.id, owner=self.owner, status=queue.FAILED,
                                         error=error[:2000])
                    log.error("inbound event %s failed for good after %s attempts: %s", row.id, row.attempts, error)
                else:
                    delay = min(2 ** row.attempts, 120) * (0.5 + random.random())
                    await queue.retry_later(session, InboundEvent, row.id, owner=self.owner,
                                            at=utcnow() + timedelta(seconds=delay), error=error[:2000])
