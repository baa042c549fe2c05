"""Ranking knowledge entries for a customer's message: words (BM25) and meaning (embeddings), fused.

Both signals are on a 0..1 scale before they are combined: the lexical score is the share of the message's
words an entry explains; the semantic score is the cosine similarity mapped so that SEMANTIC_FLOOR (what
unrelated texts of the same domain reach with MiniLM) is 0 and SEMANTIC_CEILING is 1. The fused score is their
weighted sum, so an entry found by both ranks above one found by either, and the answer threshold was calibrated
on tests/assistant/knowledge/eval_set.py (paraphrases that must hit, unrelated questions that must miss).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from touchpoint.assistant.knowledge.index import IndexedEntry, KnowledgeIndex, language_key
from touchpoint.assistant.knowledge.lexical import LexicalMatch, words

MAX_QUERY_CHARS = 1000
SEMANTIC_WEIGHT = 0.6
SEMANTIC_FLOOR = 0.25
SEMANTIC_CEILING = 0.75
# Below these an answer would be a guess: best_answer returns None and the assistant clarifies or escalates.
HYBRID_THRESHOLD = 0.42
LEXICAL_THRESHOLD = 0.78
NEAREST_UNITS = 50
_NO_MATCH = LexicalMatch(0.0, 0.0, ())
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]")


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    entry_id: int
    kind: str  # faq | article
    title: str  # the FAQ question or the article title
    answer: str  # the FAQ answer, or the article passage that best matches the message
    url: str | None
    score: float  # fused, 0..1: compare with threshold()
    lexical: float  # 0..1
    semantic: float | None  # raw cosine; None when retrieval ran on words only


def clean_query(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    text = unicodedata.normalize("NFKC", str(text)[: MAX_QUERY_CHARS * 4]).replace("\ufffd", " ")
    return " ".join(_CONTROL.sub(" ", text).split())[:MAX_QUERY_CHARS]


def semantic_scale(cosine: float) -> float:
    return min(max((cosine - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR), 0.0), 1.0)


def fuse(lexical: float, cosine: float | None) -> float:
    if cosine is None:
        return lexical
    return SEMANTIC_WEIGHT * semantic_scale(cosine) + (1 - SEMANTIC_WEIGHT) * lexical


def threshold(semantic: bool) -> float:
    return HYBRID_THRESHOLD if semantic else LEXICAL_THRESHOLD


@dataclass(slots=True)
class _EntryScore:
    key: tuple[float, float]  # (fused score, raw lexical score) of the entry's best unit
    passage: int  # that unit's passage (-1: the entry as a whole)
    lexical: float
    cosine: float | None


def _allowed(entry: IndexedEntry, language: str | None) -> bool:
    # An entry without a language serves every language; with one, only messages in it.
    return language is None or entry.language is None or entry.language == language


def rank(index: KnowledgeIndex, query: str, query_vector: Any = None, *, language: str | None = None,
         limit: int = 3) -> list[KnowledgeHit]:
    """The best `limit` entries, best first, each with the passage to quote. `query_vector` (the message's
    embedding by the index's encoder) is used only when the index has its embeddings."""
    query_words = words(query)
    if not index.units or (not query_words and query_vector is None):
        return []
    matches = index.lexical.score(query_words)
    cosines = None
    candidates: set[int] = set(matches)
    if query_vector is not None and index.semantic is not None:
        cosines = index.semantic.cosines(query_vector)
        # Only the units nearest by meaning can beat the ones that share words: scoring the rest would cost
        # time on a large knowledge base and change nothing in the top `limit` entries.
        candidates.update(index.semantic.nearest(cosines, max(NEAREST_UNITS, 10 * limit)))
    wanted = language_key(language)
    # Per entry: its best unit (by fused score, ties by raw lexical score) and its best lexical and semantic
    # scores over its candidate units.
    best: dict[int, _EntryScore] = {}
    for row in sorted(candidates):
        unit = index.units[row]
        if not _allowed(index.entries[unit.entry], wanted):
            continue
        cosine = float(cosines[row]) if cosines is not None else None
        match = matches.get(row, _NO_MATCH)
        key = (fuse(match.score, cosine), match.raw)
        current = best.get(unit.entry)
        if current is None:
            best[unit.entry] = _EntryScore(key, unit.passage, match.score, cosine)
            continue
        if key > current.key:
            current.key, current.passage = key, unit.passage
        current.lexical = max(current.lexical, match.score)
        if cosine is not None:
            current.cosine = max(current.cosine if current.cosine is not None else -1.0, cosine)
    ordered = sorted(best.items(), key=lambda item: (-item[1].key[0], -item[1].key[1], index.entries[item[0]].id))
    hits = []
    for position, found in ordered[:max(limit, 0)]:
        entry = index.entries[position]
        if found.key[0] <= 0:
            break
        hits.append(KnowledgeHit(entry.id, entry.kind, entry.title, _answer_text(entry, found.passage), entry.url,
                                 round(found.key[0], 4), round(found.lexical, 4),
                                 None if found.cosine is None else round(found.cosine, 4)))
    return hits


def _answer_text(entry: IndexedEntry, passage: int) -> str:
    if entry.kind != "article":
        return entry.answer
    if passage >= 0:
        return entry.passages[passage].text
    # The article as a whole matched best: its short answer, else its first passage.
    return entry.answer or (entry.passages[0].text if entry.passages else entry.title)
