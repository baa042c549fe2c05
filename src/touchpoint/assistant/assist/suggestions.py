"""Suggested replies for the agent: knowledge-base answers (searched by meaning and words) and the
workspace's canned responses (by word similarity to what the customer wrote), merged, de-duplicated and
ranked, each with its source so the agent knows what they are about to send.

Suggestions are text for the reply box only; nothing here sends anything.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.assist import repository
from touchpoint.assistant.assist.summary import FILLER, STOPWORDS
from touchpoint.assistant.knowledge.retrieval import KnowledgeHit
from touchpoint.models import CannedResponse

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)
CANNED_MIN_SCORE = 0.12
# Knowledge hits below this share little with the question (the bot's own answer threshold is 0.45 to 0.5);
# a suggestion may be a little weaker than an automatic answer, since a person reads it first.
KNOWLEDGE_MIN_SCORE = 0.35
NEAR_DUPLICATE = 0.8
# Weight of each customer message in the query, newest first: what they said last matters most.
RECENCY_WEIGHTS = (1.0, 0.6, 0.35)


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    source: str            # "knowledge" | "canned"
    title: str             # the knowledge entry's question or title, or the canned response's title
    score: float           # 0..1, comparable enough across sources to rank them together
    ref: str               # "knowledge:12" | "canned:3"
    url: str | None = None
    shortcut: str | None = None

    @property
    def source_label(self) -> str:
        return "Knowledge base" if self.source == "knowledge" else "Canned response"


# Words of every request ("I want help, but it doesn't..."): they would match every canned response a little.
GENERIC = frozenset("but not did didn doesn don isn wasn also want wanted need needs get got help know like there "
                    "any some one if as by from about what when where which who why how has have had been".split())


def tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return [w for w in _WORD.findall(folded)
            if len(w) > 1 and not w.isdigit() and w not in STOPWORDS and w not in FILLER and w not in GENERIC]


def _stem(word: str) -> str:
    """A crude English suffix strip, enough for "cancelled"/"cancel", "bookings"/"booking" to meet."""
    for suffix in ("ations", "ation", "ings", "ing", "led", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> Counter[str]:
    return Counter(_stem(w) for w in tokens(text))


def normalized(text: str) -> str:
    return " ".join(tokens(text))


def rank_canned(query_texts: Sequence[str], canned: Sequence[CannedResponse], *,
                limit: int = 3) -> list[Suggestion]:
    """TF-IDF cosine between each of the customer's recent requests and each canned response's title,
    shortcut and text; a response scores its best match, discounted by how old that request is (newest
    first in `query_texts`). The corpus is the workspace's canned set, so words every response shares
    ("booking" at a hotel) count for little."""
    if not canned or not query_texts:
        return []
    docs = [_terms(f"{c.title} {c.title} {c.shortcut.replace('-', ' ').replace('_', ' ')} {c.text}") for c in canned]
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    n = len(docs)

    def idf(term: str) -> float:
        # A word no canned response has weighs like the rarest one that does: in a set of a few dozen
        # responses, "unknown" says little about how specific the word is.
        return math.log(1 + (n + 1) / (max(df.get(term, 0), 1) + 0.5))

    def unit(weights: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(v * v for v in weights.values()))
        return {t: v / norm for t, v in weights.items()} if norm else {}

    queries = [(weight, unit({t: (1 + math.log(c)) * idf(t) for t, c in _terms(text).items()}))
               for weight, text in zip(RECENCY_WEIGHTS, query_texts, strict=False)]
    scored = []
    for response, doc in zip(canned, docs, strict=True):
        vector = unit({t: (1 + math.log(c)) * idf(t) for t, c in doc.items()})
        score = max((w * sum(v * vector.get(t, 0.0) for t, v in q.items()) for w, q in queries if q), default=0.0)
        if score >= CANNED_MIN_SCORE:
            scored.append((score, response))
    scored.sort(key=lambda pair: (-pair[0], pair[1].shortcut))
    return [Suggestion(text=c.text, source="canned", title=c.title, score=round(min(1.0, s), 4),
                       ref=f"canned:{c.id}", shortcut=c.shortcut) for s, c in scored[:limit]]


def knowledge_suggestion(hit: KnowledgeHit) -> Suggestion | None:
    """A knowledge hit as a suggestion: the passage the bot would quote, with the entry as its source."""
    if hit.score < KNOWLEDGE_MIN_SCORE or not hit.answer.strip():
        return None
    # Shown as a link to agents: only web addresses, never javascript: or data: URLs.
    url = hit.url if hit.url and hit.url.lower().startswith(("https://", "http://")) else None
    return Suggestion(text=hit.answer.strip(), source="knowledge", title=hit.title or "Knowledge base",
                      ref=f"knowledge:{hit.entry_id}", score=round(float(hit.score), 4), url=url)


def merge(*groups: Sequence[Suggestion], limit: int) -> list[Suggestion]:
    """Best first; of two suggestions saying the same thing, the better-scored one stays."""
    ranked = sorted((s for group in groups for s in group), key=lambda s: (-s.score, s.source, s.ref))
    kept: list[Suggestion] = []
    kept_terms: list[set[str]] = []
    for suggestion in ranked:
        terms = set(tokens(suggestion.text))
        duplicate = any(
            normalized(suggestion.text) == normalized(k.text)
            or (terms and other and len(terms & other) / len(terms | other) >= NEAR_DUPLICATE)
            for k, other in zip(kept, kept_terms, strict=True))
        if not duplicate:
            kept.append(suggestion)
            kept_terms.append(terms)
        if len(kept) >= limit:
            break
    return kept


async def _knowledge(session: AsyncSession, workspace_id: int, query: str, *, encoder: Any,
                     language: str | None) -> list[Suggestion]:
    try:
        from touchpoint.assistant.knowledge import service as knowledge

        hits = await knowledge.search(session, workspace_id, query, limit=3, encoder=encoder, language=language)
    except Exception:
        # A broken index must not take the conversation page down with it; canned responses still show.
        log.exception("assist: knowledge search failed for workspace %s", workspace_id)
        return []
    return [s for s in (knowledge_suggestion(hit) for hit in hits) if s is not None]


async def suggest_replies(session: AsyncSession, workspace_id: int, query_texts: Sequence[str], *,
                          team_id: int | None = None, limit: int = 4, encoder: Any = None,
                          language: str | None = None,
                          canned: Sequence[CannedResponse] | None = None) -> list[Suggestion]:
    """Suggestions for the customer's latest requests (`query_texts`, newest first). `canned`: the canned
    responses of the conversation's team when the caller has them loaded already."""
    texts = [t.strip()[:2000] for t in query_texts if t and t.strip()]
    if not texts:
        return []
    # One search per request (a second topic would only dilute the first), older ones discounted.
    found: dict[str, Suggestion] = {}
    for weight, text in zip(RECENCY_WEIGHTS[:2], texts, strict=False):
        for hit in await _knowledge(session, workspace_id, text, encoder=encoder, language=language):
            weighted = replace(hit, score=round(hit.score * weight, 4))
            if weighted.score >= KNOWLEDGE_MIN_SCORE * weight and (
                    hit.ref not in found or found[hit.ref].score < weighted.score):
                found[hit.ref] = weighted
    if canned is None:
        canned = await repository.canned_for_team(session, workspace_id, team_id)
    return merge(list(found.values()), rank_canned(texts, canned, limit=limit), limit=limit)
