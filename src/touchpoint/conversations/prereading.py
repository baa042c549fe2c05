"""Understanding a claimed batch of inbound messages ahead of processing, outside any write transaction.

Reading a message (the sentence encoder, the intent classifier, the escalation scorer) is most of the CPU a bot
answer costs. Done inside the processing transaction, one message at a time, it holds SQLite's only write lock
while it runs (webhooks wait for their 2xx behind it) and pays the encoder's per-run overhead for every message.
Here the messages of a claimed batch are read in groups of up to `GROUP` per workspace, each group in one call in a
worker thread (onnxruntime releases the GIL, so the event loop keeps answering webhooks), one group ahead of
the processing: while the loop processes group k, the thread reads group k+1.

Only an assistant with a `reader(session, workspace_id)` (the WorkspaceAssistant) takes part; with any other, or
for a workspace without a trained model, nothing is read ahead and the assistant reads as before. A group that
fails to read is logged and its messages are read the old way, one by one, by the assistant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from touchpoint.conversations import repository
from touchpoint.models import ConversationStatus, InboundEvent
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
GROUP = 32  # messages per call: one ONNX run, sorted by length inside


class _Group:
    __slots__ = ("read", "result", "row_ids", "task", "texts")

    def __init__(self, read: Callable[[list[str]], list[Any]]) -> None:
        self.read = read
        self.row_ids: list[int] = []
        self.texts: list[str] = []
        self.task: asyncio.Task[list[Any]] | None = None
        self.result: dict[int, Any] = {}


class Prereader:
    """The read-ahead of one claimed batch. `wait_for(row)` outside any transaction, then `ready(row)` tells
    whether processing the row now would wait, and `get(row)` gives its Preread (or None)."""

    def __init__(self, groups: list[_Group]) -> None:
        self._groups = groups
        self._group_of: dict[int, int] = {row_id: n for n, group in enumerate(groups) for row_id in group.row_ids}

    @classmethod
    async def start(cls, runtime: Runtime, assistant: Any, rows: Sequence[InboundEvent]) -> Prereader:
        reader = getattr(assistant, "reader", None)
        wanted = [row for row in rows if row.kind == "message" and _text(row)]
        if reader is None or not wanted:
            return cls([])
        readers: dict[int, Callable[[list[str]], list[Any]] | None] = {}
        try:
            # A read session: the first load of a workspace's model is awaited here, never under the write lock.
            async with runtime.sessionmaker() as session:
                for workspace_id in dict.fromkeys(row.workspace_id for row in wanted):
                    readers[workspace_id] = await reader(session, workspace_id)
                wanted = [row for row in wanted if readers[row.workspace_id] is not None]
                if not wanted:  # words only: nothing worth reading ahead
                    return cls([])
                # People own these senders' conversations: the bot will not read their messages (unless an earlier
                # message of the batch changes that, and then the assistant simply reads it itself).
                statuses = await repository.open_statuses_for_senders(
                    session, [(row.channel_account_id, _sender(row)) for row in wanted])
        except Exception:
            log.exception("could not look up the understanding engines; messages are read one by one")
            return cls([])
        groups: list[_Group] = []
        open_group: dict[int, _Group] = {}
        for row in wanted:
            read = readers[row.workspace_id]
            status = statuses.get((row.channel_account_id, _sender(row)))
            if read is None or (status is not None and ConversationStatus(status).human_owned):
                continue
            group = open_group.get(row.workspace_id)
            if group is None or len(group.row_ids) >= GROUP:
                group = open_group[row.workspace_id] = _Group(read)
                groups.append(group)
            group.row_ids.append(row.id)
            group.texts.append(_text(row))
        prereader = cls(groups)
        if groups:
            prereader._launch(0)
        return prereader

    def _launch(self, n: int) -> None:
        if n < len(self._groups) and self._groups[n].task is None:
            group = self._groups[n]
            group.task = asyncio.create_task(asyncio.to_thread(group.read, group.texts),
                                             name="touchpoint-inbound-preread")

    def ready(self, row: InboundEvent) -> bool:
        n = self._group_of.get(row.id)
        if n is None:
            return True
        task = self._groups[n].task
        return task is not None and task.done()

    async def wait_for(self, row: InboundEvent) -> None:
        """Await the row's group (starting it if needed), then start the next group so that it is read while
        this one is processed."""
        n = self._group_of.get(row.id)
        if n is None:
            return
        group = self._groups[n]
        self._launch(n)
        assert group.task is not None
        if not group.task.done():
            await asyncio.wait([group.task])
        if not group.result:
            failure = group.task.exception()
            if failure is None:
                group.result = dict(zip(group.row_ids, group.task.result(), strict=True))
            else:
                log.error("reading %s messages ahead failed; the assistant reads them one by one",
                          len(group.row_ids), exc_info=failure)
                group.result = dict.fromkeys(group.row_ids)
        self._launch(n + 1)

    def get(self, row: InboundEvent) -> Any:
        n = self._group_of.get(row.id)
        return self._groups[n].result.get(row.id) if n is not None else None

    async def close(self) -> None:
        """Wait for reads still running (a batch that failed early): their threads cannot be cancelled."""
        running = [g.task for g in self._groups if g.task is not None and not g.task.done()]
        if running:
            await asyncio.wait(running)
        for group in self._groups:
            if group.task is not None and group.task.done() and not group.task.cancelled():
                group.task.exception()  # retrieved: no "exception was never retrieved" warning


def _text(row: InboundEvent) -> str:
    """The text the assistant will be asked about: the event's text, stripped as the assistant strips it."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    text = payload.get("text")
    return text.strip() if isinstance(text, str) else ""


def _sender(row: InboundEvent) -> str:
    payload = row.payload if isinstance(row.payload, dict) else {}
    return str(payload.get("sender_id") or "")
