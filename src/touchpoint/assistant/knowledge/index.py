"""The per-workspace retrieval index, cached in the process and rebuilt when the workspace's entries change.

Every bot message would otherwise re-read and re-embed the whole knowledge base. Instead one index per
(database, workspace, encoder) lives in memory; whether the entries changed is checked with one cheap query
(count, max id, max updated_at) at most every CHECK_SECONDS, and at once after a change this process committed.

Embedding is the expensive part (a few ms a text). It always runs in a worker thread; a rebuild re-embeds only
texts that changed; and when more than SYNC_ENCODE_MAX texts are new (an import of a large KB) the index is
served by words alone until the background embedding finishes, so a large KB never holds up a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from touchpoint.assistant.knowledge import repository
from touchpoint.assistant.knowledge.lexical import Bm25Index, Word, words
from touchpoint.assistant.knowledge.passages import Passage, split_passages

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
SYNC_ENCODE_MAX = 64
MAX_SEMANTIC_CHARS = 1000  # the encoder reads 128 tokens; tokenising more is wasted work
_CHANGED_KEY = "touchpoint.knowledge.changed"


_NO_LANGUAGE = frozenset({"", "und", "mul", "zxx"})  # undetermined, multiple, no linguistic content


def language_key(language: str | None) -> str | None:
    """"pt-BR", "pt_br" and "PT" all mean Portuguese here: the primary subtag, lowercased. None for no language
    or an undetermined one ("und", what detection says of "ok"): such a message is not filtered."""
    if not language:
        return None
    primary = language.replace("_", "-").split("-", 1)[0].strip().casefold()
    return None if primary in _NO_LANGUAGE else primary


@dataclass(frozen=True, slots=True)
class IndexedEntry:
    id: int
    kind: str  # faq | article
    title: str  # an FAQ's question, an article's title
    answer: str  # an FAQ's answer; an article's optional short answer ("" when none)
    url: str | None
    language: str | None  # primary subtag, None: any language
    passages: tuple[Passage, ...] = ()  # articles only


@dataclass(frozen=True, slots=True)
class Unit:
    """What retrieval scores: an entry as a whole (passage -1) or one passage of an article."""

    entry: int  # position in KnowledgeIndex.entries
    passage: int
    semantic_texts: tuple[str, ...]  # embedded separately; the unit scores the best of them


@dataclass(eq=False)
class KnowledgeIndex:
    entries: tuple[IndexedEntry, ...]
    units: tuple[Unit, ...]
    lexical: Bm25Index
    encoder_id: str | None = None
    # A SemanticIndex (one row per unit) once embedded; None: words only (no encoder, or still embedding).
    semantic: Any = None


def _semantic_text(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())[:MAX_SEMANTIC_CHARS]


def _texts(*texts: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in texts if t))


def build_index(rows: Any, encoder_id: str | None = None) -> KnowledgeIndex:
    """The words-only index of the published rows (CPU work: callers run it in a thread for large KBs)."""
    entries: list[IndexedEntry] = []
    units: list[Unit] = []
    documents: list[list[Word]] = []
    for row in rows:
        title, keywords = row.question or "", (row.keywords or "").replace(",", " ")
        answer = row.answer or ""
        position = len(entries)
        if row.kind == "article":
            passages = tuple(split_passages(row.body or ""))
            summary = answer or (passages[0].text if passages else "")
            # The title and the short answer: the passages carry the article's content.
            units.append(Unit(position, -1, _texts(_semantic_text(title), _semantic_text(answer))))
            documents.append(words(title) * 2 + words(keywords) + words(summary))
            for number, passage in enumerate(passages):
                units.append(Unit(position, number, _texts(
                    _semantic_text(title + ".", passage.heading + ".", passage.text))))
                documents.append(words(title) + words(keywords) + words(passage.heading) + words(passage.text))
        else:
            passages = ()
            # The question and the answer, each on its own: measured on the eval set, one text of question,
            # keywords and answer pulled unrelated messages closer more than it helped paraphrases.
            units.append(Unit(position, -1, _texts(_semantic_text(title), _semantic_text(answer))))
            documents.append(words(title) * 2 + words(keywords) + words(answer))
        entries.append(IndexedEntry(int(row.id), row.kind, title, answer, row.url, language_key(row.language),
                                    passages))
    return KnowledgeIndex(tuple(entries), tuple(units), Bm25Index(documents), encoder_id)


def build_embedded(rows: Any, encoder: Any = None) -> KnowledgeIndex:
    """An index with its embeddings, built synchronously (evaluation, tests, a CLI): not for the event loop."""
    index = build_index(rows, getattr(encoder, "encoder_id", None) if encoder is not None else None)
    if encoder is not None:
        from touchpoint.assistant.knowledge import semantic

        wanted = [(row, text) for row, unit in enumerate(index.units) for text in unit.semantic_texts]
        index.semantic = semantic.SemanticIndex(semantic.encode_texts(encoder, [t for _, t in wanted]),
                                                [row for row, _ in wanted], [t for _, t in wanted], len(index.units))
    return index


@dataclass(eq=False)
class _Slot:
    index: KnowledgeIndex | None = None
    stamp: repository.Stamp | None = None
    checked_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    embedding: asyncio.Task[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the lock and the task belong to one event loop

    def on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """A CLI command or a test may run several event loops in one process, one after the other."""
        if self.loop is not loop:
            self.loop, self.lock, self.embedding = loop, asyncio.Lock(), None
            if self.index is not None and self.index.semantic is None and self.index.encoder_id is not None:
                self.stamp = None  # its embedding task died with the old loop: rebuild at the next check


# Keyed by the database first: two databases (tests, or several deployments in one process) may both have a
# workspace 1. A SQLite file is one database whatever engine reads it (the runtime has a read and a write
# engine for it), so it is keyed by its path; any other database by its engine, weakly, so a disposed engine's
# indexes go with it.
_Slots = dict[tuple[int, str | None], _Slot]
_by_engine: weakref.WeakKeyDictionary[Any, _Slots] = weakref.WeakKeyDictionary()
_by_file: dict[str, _Slots] = {}


def _slots_of(session: AsyncSession) -> _Slots:
    bind: Any = session.get_bind()
    engine = getattr(bind, "engine", bind)
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return _by_file.setdefault(url.database, {})
    return _by_engine.setdefault(engine, {})


def _all_slots() -> list[_Slots]:
    return [*_by_file.values(), *_by_engine.values()]


def mark_changed(session: AsyncSession, workspace_id: int) -> None:
    """Call from every mutator of knowledge entries: once the transaction commits, this process re-checks the
    workspace's index at its next search instead of up to CHECK_SECONDS later."""
    session.info.setdefault(_CHANGED_KEY, set()).add(workspace_id)


def invalidate(workspace_id: int | None = None) -> None:
    """Re-check at the next search (all workspaces when None)."""
    for slots in _all_slots():
        for (slot_workspace, _encoder), slot in slots.items():
            if workspace_id is None or slot_workspace == workspace_id:
                slot.checked_at = float("-inf")


def clear_cache() -> None:
    for slots in _all_slots():
        for slot in slots.values():
            if slot.embedding is not None:
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    slot.embedding.cancel()
    _by_file.clear()
    _by_engine.clear()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for workspace_id in session.info.pop(_CHANGED_KEY, ()):
        invalidate(workspace_id)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)


async def get_index(session: AsyncSession, workspace_id: int, encoder: Any = None) -> KnowledgeIndex:
    """The workspace's current index for this encoder (None: words only)."""
    encoder_id = getattr(encoder, "encoder_id", None) if encoder is not None else None
    slot = _slots_of(session).setdefault((workspace_id, encoder_id), _Slot())
    slot.on_loop(asyncio.get_running_loop())
    if slot.index is not None and time.monotonic() - slot.checked_at < CHECK_SECONDS:
        return slot.index
    async with slot.lock:
        if slot.index is not None and time.monotonic() - slot.checked_at < CHECK_SECONDS:
            return slot.index  # another search refreshed it while this one waited
        checked_at = time.monotonic()
        current = await repository.stamp(session, workspace_id)
        if slot.index is not None and current == slot.stamp:
            slot.checked_at = checked_at
            return slot.index
        rows = await repository.published_rows(session, workspace_id)
        index = await asyncio.to_thread(build_index, rows, encoder_id) if len(rows) > 200 else \
            build_index(rows, encoder_id)
        embedded = await _embed(slot, index, encoder, previous=slot.index) if encoder is not None else True
        # A failed embedding leaves the index answering by words; forgetting the stamp retries at the next check.
        slot.index, slot.stamp, slot.checked_at = index, current if embedded else None, checked_at
        return index


async def _embed(slot: _Slot, index: KnowledgeIndex, encoder: Any, previous: KnowledgeIndex | None) -> bool:
    """Embeds the index's texts now (few new texts) or in the background (many); False when it failed."""
    from touchpoint.assistant.knowledge import semantic

    known: dict[str, Any] = {}
    if previous is not None and previous.semantic is not None:
        known = dict(zip(previous.semantic.texts, previous.semantic.vectors, strict=True))
    wanted = [(row, text) for row, unit in enumerate(index.units) for text in unit.semantic_texts]
    missing = sorted({text for _, text in wanted} - known.keys())
    if slot.embedding is not None:
        slot.embedding.cancel()  # it was embedding an index that is being replaced
        slot.embedding = None

    def finish(fresh: Any) -> None:
        vectors = dict(known)
        vectors.update(zip(missing, fresh, strict=True))
        index.semantic = semantic.SemanticIndex(
            semantic.stack([vectors[text] for _, text in wanted], int(encoder.dim)), [row for row, _ in wanted],
            [text for _, text in wanted], len(index.units))

    if len(missing) <= SYNC_ENCODE_MAX:
        try:
            finish(await asyncio.to_thread(semantic.encode_texts, encoder, missing))
        except Exception:  # a broken encoder must not break answering: words still work
            log.exception("embedding %d knowledge texts failed; answering by words only", len(missing))
            return False
        return True

    async def in_background() -> None:
        try:
            finish(await asyncio.to_thread(semantic.encode_texts, encoder, missing))
        except Exception:  # the index keeps answering by words; the next change or check tries again
            log.exception("embedding %d knowledge texts failed", len(missing))
            slot.stamp = None
        finally:
            if slot.embedding is asyncio.current_task():
                slot.embedding = None

    slot.embedding = asyncio.get_running_loop().create_task(in_background())
    return True


async def wait_for_embeddings(session: AsyncSession, workspace_id: int, encoder: Any) -> None:
    """Tests and warm-up: wait until a background embedding of the workspace's index (if any) is done."""
    slot = _slots_of(session).get((workspace_id, getattr(encoder, "encoder_id", None) if encoder else None))
    if slot is not None and slot.embedding is not None and slot.loop is asyncio.get_running_loop():
        with contextlib.suppress(asyncio.CancelledError):
            await slot.embedding
