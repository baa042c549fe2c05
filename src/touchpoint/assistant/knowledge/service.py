"""The knowledge base: retrieval for the assistant (search, best_answer, compose_answer, feedback_of) and the
entry mutators the API uses. Mutators flush, never commit; each marks the workspace's index for a re-check."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.base import Reply
from touchpoint.assistant.knowledge import index as kb_index
from touchpoint.assistant.knowledge import repository
from touchpoint.assistant.knowledge.feedback import feedback_of
from touchpoint.assistant.knowledge.index import KnowledgeIndex
from touchpoint.assistant.knowledge.retrieval import KnowledgeHit, clean_query, rank, threshold
from touchpoint.assistant.knowledge.schemas import EntryIn, check_kind_fields
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import AppError, NotFound
from touchpoint.models import KnowledgeEntry
from touchpoint.workspaces.audit import Actor, record_audit

__all__ = ["FEEDBACK_QUESTION", "QUICK_REPLIES", "KnowledgeHit", "best_answer", "compose_answer", "confident",
           "create_entry", "delete_entry", "feedback_of", "import_entries", "require_entry", "search", "search_index",
           "set_published", "update_entry"]

log = logging.getLogger(__name__)
FEEDBACK_QUESTION = "Did this answer your question?"
QUICK_REPLIES = ("Yes, thanks", "No")
MAX_REPLY_CHARS = 4000  # a chat message; the answer is shortened to leave room for the source and the question
_QUERY_CACHE_SIZE = 256
# The same message is often searched twice in a turn (the answer, then suggestions for the agent).
_query_vectors: OrderedDict[tuple[str, str], Any] = OrderedDict()


def _query_vector(encoder: Any, text: str, known: Any = None) -> Any:
    """`known`: the vector the caller already has for `text` (kept for the next search of the same text)."""
    from touchpoint.assistant.knowledge.semantic import encode_query

    key = (str(getattr(encoder, "encoder_id", id(encoder))), text)
    vector = _query_vectors.get(key)
    if vector is None:
        # One short text, a few ms: cheaper inline than a thread hop, as the intent classifier does it.
        vector = _query_vectors[key] = known if known is not None else encode_query(encoder, text)
        if len(_query_vectors) > _QUERY_CACHE_SIZE:
            _query_vectors.popitem(last=False)
    else:
        _query_vectors.move_to_end(key)
    return vector


async def search(session: AsyncSession, workspace_id: int, query: str, *, limit: int = 3, encoder: Any = None,
                 language: str | None = None, query_vector: Any = None) -> list[KnowledgeHit]:
    """The published entries that best match `query`, best first, by words and (with an encoder) by meaning.
    Entries with a language only match a `language` they share; entries without one match every language.
    `query_vector`: `encoder`'s vector of clean_query(query) when the caller already has it (understanding made
    it), so the message is not encoded twice."""
    text = clean_query(query)
    if not text or limit <= 0:
        return []
    index = await kb_index.get_index(session, workspace_id, encoder)
    return search_index(index, text, limit=limit, encoder=encoder, language=language, query_vector=query_vector)


def search_index(index: KnowledgeIndex, query: str, *, limit: int = 3, encoder: Any = None,
                 language: str | None = None, query_vector: Any = None) -> list[KnowledgeHit]:
    """`search` on an index already at hand (evaluation, tests)."""
    text = clean_query(query)
    if not text or limit <= 0:
        return []
    vector = None
    if encoder is not None and index.semantic is not None:
        try:
            vector = _query_vector(encoder, text, known=query_vector)
        except Exception:  # a failing encoder degrades to words, it never fails the customer's message
            log.exception("encoding a knowledge query failed; searching by words only")
    return rank(index, text, vector, language=language, limit=limit)


def confident(hits: Sequence[KnowledgeHit]) -> KnowledgeHit | None:
    """The best hit when it reaches the calibrated threshold (words-only and hybrid scores have their own)."""
    if not hits:
        return None
    return hits[0] if hits[0].score >= threshold(hits[0].semantic is not None) else None


async def best_answer(session: AsyncSession, workspace_id: int, query: str, *, encoder: Any = None,
                      language: str | None = None, query_vector: Any = None) -> KnowledgeHit | None:
    """The entry to answer with, or None when even the best match is below the calibrated threshold."""
    return confident(await search(session, workspace_id, query, limit=1, encoder=encoder, language=language,
                                  query_vector=query_vector))


def compose_answer(hit: KnowledgeHit) -> Reply:
    """The answer, its source and the feedback question, with quick replies for channels that have them."""
    source = f"From: {hit.title}" + (f"\n{hit.url}" if hit.url else "")
    room = MAX_REPLY_CHARS - len(source) - len(FEEDBACK_QUESTION) - 4
    answer = hit.answer.strip()
    if len(answer) > room:
        answer = answer[:room - 1].rstrip() + "…"
    text = f"{answer}\n\n{source}\n{FEEDBACK_QUESTION}"
    return Reply(text, {"source": {"knowledge_id": hit.entry_id, "title": hit.title, "url": hit.url},
                        "quick_replies": list(QUICK_REPLIES), "feedback_for": hit.entry_id})


# ---- entries --------------------------------------------------------------------------------------------

async def require_entry(session: AsyncSession, workspace_id: int, entry_id: int) -> KnowledgeEntry:
    entry = await repository.access_entry(session, workspace_id, entry_id)
    if entry is None:
        raise NotFound(f"no knowledge entry {entry_id} in this workspace")
    return entry


def _apply(entry: KnowledgeEntry, fields: EntryIn) -> None:
    entry.kind = fields.kind
    entry.question = fields.question
    entry.answer = fields.answer or ""
    entry.body = fields.body if fields.kind == "article" else None
    entry.keywords = fields.keywords
    entry.url = fields.url
    entry.language = fields.language
    entry.is_published = fields.published
    entry.updated_at = utcnow()


async def create_entry(session: AsyncSession, *, workspace_id: int, fields: EntryIn, actor: Actor) -> KnowledgeEntry:
    entry = KnowledgeEntry(workspace_id=workspace_id)
    _apply(entry, fields)
    session.add(entry)
    await session.flush()
    kb_index.mark_changed(session, workspace_id)
    record_audit(session, workspace_id=workspace_id, actor=actor, action="knowledge.create", subject_type="knowledge",
                 subject_id=entry.id, kind=entry.kind, question=entry.question)
    return entry


def _current(entry: KnowledgeEntry) -> dict[str, Any]:
    return {"kind": entry.kind, "question": entry.question, "answer": entry.answer or None, "body": entry.body,
            "keywords": entry.keywords or "", "url": entry.url, "language": entry.language,
            "published": entry.is_published}


async def update_entry(session: AsyncSession, *, entry: KnowledgeEntry, changes: dict[str, Any],
                       actor: Actor) -> KnowledgeEntry:
    """`changes` holds the fields sent (already validated one by one); the result must still be a valid entry."""
    merged = {**_current(entry), **changes}
    if merged["keywords"] is None:
        merged["keywords"] = ""
    try:
        check_kind_fields(merged["kind"], merged["answer"], merged["body"])
        if merged["question"] is None or merged["published"] is None:
            raise ValueError("question and published cannot be cleared")
    except ValueError as exc:
        raise AppError(str(exc), code="invalid_entry", status_code=422) from None
    _apply(entry, EntryIn.model_construct(**merged))
    await session.flush()
    kb_index.mark_changed(session, entry.workspace_id)
    record_audit(session, workspace_id=entry.workspace_id, actor=actor, action="knowledge.update",
                 subject_type="knowledge", subject_id=entry.id, fields=sorted(changes))
    return entry


async def set_published(session: AsyncSession, *, entry: KnowledgeEntry, published: bool,
                        actor: Actor) -> KnowledgeEntry:
    if entry.is_published != published:
        entry.is_published = published
        entry.updated_at = utcnow()
        await session.flush()
        kb_index.mark_changed(session, entry.workspace_id)
        record_audit(session, workspace_id=entry.workspace_id, actor=actor,
                     action="knowledge.publish" if published else "knowledge.unpublish", subject_type="knowledge",
                     subject_id=entry.id)
    return entry


async def delete_entry(session: AsyncSession, *, entry: KnowledgeEntry, actor: Actor) -> None:
    await repository.delete_entries(session, entry.workspace_id, [entry.id])
    kb_index.mark_changed(session, entry.workspace_id)
    record_audit(session, workspace_id=entry.workspace_id, actor=actor, action="knowledge.delete",
                 subject_type="knowledge", subject_id=entry.id, question=entry.question)


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    deleted: int


def import_key(kind: str, question: str, language: str | None) -> tuple[str, str, str | None]:
    """An imported entry replaces the existing one of the same kind, question/title and language."""
    return kind, " ".join(question.casefold().split()), kb_index.language_key(language)


async def import_entries(session: AsyncSession, *, workspace_id: int, entries: Sequence[EntryIn], replace: bool,
                         actor: Actor) -> ImportResult:
    """Creates or updates every entry (matched by import_key); with `replace`, deletes the others. The caller's
    transaction makes it all or nothing. Entries must already be validated and free of duplicate keys."""
    existing = {import_key(e.kind, e.question, e.language): e for e in await repository.all_entries(session,
                                                                                                    workspace_id)}
    created = updated = unchanged = 0
    seen: set[int] = set()
    for fields in entries:
        entry = existing.get(import_key(fields.kind, fields.question, fields.language))
        if entry is None:
            entry = KnowledgeEntry(workspace_id=workspace_id)
            _apply(entry, fields)
            session.add(entry)
            created += 1
            continue
        seen.add(entry.id)
        if _current(entry) == {**fields.model_dump(), "answer": fields.answer or None,
                               "body": fields.body if fields.kind == "article" else None}:
            unchanged += 1
            continue
        _apply(entry, fields)
        updated += 1
    deleted = 0
    if replace:
        deleted = await repository.delete_entries(session, workspace_id,
                                                  [e.id for e in existing.values() if e.id not in seen])
    await session.flush()
    kb_index.mark_changed(session, workspace_id)
    record_audit(session, workspace_id=workspace_id, actor=actor, action="knowledge.import", subject_type="knowledge",
                 subject_id=None, created=created, updated=updated, unchanged=unchanged, deleted=deleted)
    return ImportResult(created, updated, unchanged, deleted)
