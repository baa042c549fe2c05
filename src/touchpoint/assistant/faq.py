"""A small, honest FAQ assistant: word-overlap matching against the workspace's FAQ entries, an explicit
"talk to a person" handoff, and "I am not sure" instead of a guess. The next issue replaces the
matcher with intent classification and a knowledge base behind the same protocol."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.base import AssistantInput, Decision, Handoff, Reply
from touchpoint.models import KnowledgeEntry

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an the i me my we our you your is are was be to of in on at for and or do does can could would "
    "how what when where which who why it this that there with please hi hello hey thanks thank".split())
HUMAN_PATTERNS = [re.compile(p) for p in (
    r"\b(talk|speak|chat)\b.{0,20}\b(human|person|someone|somebody|agent|representative|people|staff)\b",
    r"\b(real|live)\s+(person|human|agent)\b",
    r"^\s*(an? )?(human|agent|operator|representative|person|real person)( please| pls| now)?\s*[.!?]*\s*$",
    r"\bcustomer (service|support)\b",
    r"\b(can|could) (someone|somebody) (call|help|contact)\b",
)]
SALES_WORDS = frozenset({"price", "prices", "pricing", "quote", "group", "corporate", "discount", "offer",
                         "package", "buy", "purchase", "rates"})
GREETINGS = frozenset({"hi", "hello", "hey", "hola", "bonjour", "good morning", "good evening", "yo"})
MATCH_THRESHOLD = 0.34
# Every bot message would otherwise read and re-tokenise the whole FAQ; an edit shows within this long.
KNOWLEDGE_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """A knowledge entry as the matcher needs it, with its words tokenised once."""

    id: int
    question: str
    answer: str
    words: frozenset[str]


def _tokens(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return {w for w in _WORD.findall(folded) if w not in STOPWORDS and len(w) > 1}


def _score(message: set[str], entry: FaqEntry) -> float:
    entry_words = entry.words
    if not message or not entry_words:
        return 0.0
    overlap = message & entry_words
    # Share of the customer's words the entry explains, damped for one-word coincidences.
    return len(overlap) / max(len(message), 2) * (1.0 if len(overlap) > 1 else 0.8)


class FaqAssistant:
    def __init__(self, handoff_team: str = "service", sales_team: str = "sales") -> None:
        self.handoff_team = handoff_team
        self.sales_team = sales_team
        self._knowledge: dict[int, tuple[float, tuple[FaqEntry, ...]]] = {}

    async def _entries(self, session: AsyncSession, workspace_id: int) -> tuple[FaqEntry, ...]:
        cached = self._knowledge.get(workspace_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        rows = (await session.execute(
            select(KnowledgeEntry.id, KnowledgeEntry.question, KnowledgeEntry.answer, KnowledgeEntry.keywords)
            .where(KnowledgeEntry.workspace_id == workspace_id).order_by(KnowledgeEntry.id)
        )).all()
        entries = tuple(FaqEntry(row.id, row.question, row.answer,
                                 frozenset(_tokens(row.question) | _tokens((row.keywords or "").replace(",", " "))))
                        for row in rows)
        self._knowledge[workspace_id] = (now + KNOWLEDGE_CACHE_SECONDS, entries)
        return entries

    async def respond(self, session: AsyncSession, message: AssistantInput) -> Decision:
        text = message.text.strip()
        lowered = text.casefold()
        if any(p.search(lowered) for p in HUMAN_PATTERNS):
            words = _tokens(text)
            team = self.sales_team if words & SALES_WORDS else self.handoff_team
            return Decision(handoff=Handoff(team, "asked for a person"), intent="human_request",
                            confidence=1.0, rule="explicit_human_request")
        if lowered.strip("!. ") in GREETINGS:
            return Decision(replies=(Reply("Hello! Ask me anything about your booking or bill, or type "
                                           "'agent' to talk to a person."),), intent="greeting",
                            confidence=1.0, rule="greeting")
        return self._match(text, await self._entries(session, message.workspace_id))

    def _match(self, text: str, entries: Sequence[FaqEntry]) -> Decision:
        words = _tokens(text)
        scored = sorted(((_score(words, e), e) for e in entries), key=lambda pair: pair[0], reverse=True)
        if scored and scored[0][0] >= MATCH_THRESHOLD:
            score, entry = scored[0]
            return Decision(replies=(Reply(entry.answer, {"source": {"faq_id": entry.id,
                                                                       "question": entry.question}}),),
                            intent=f"faq:{entry.id}", confidence=round(score, 3), rule="faq_match",
                            scores={f"faq:{e.id}": round(s, 3) for s, e in scored[:3]})
        if words & SALES_WORDS:
            return Decision(handoff=Handoff(self.sales_team, "sales question the FAQ does not answer"),
                            intent="sales", confidence=0.5, rule="sales_words")
        top = round(scored[0][0], 3) if scored else 0.0
        return Decision(
            replies=(Reply("I'm not sure I understood. Could you say it another way? You can also type "
                           "'agent' to talk to a person.", {"quick_replies": ["Talk to a person"]}),),
            intent=None, confidence=top, rule="not_understood")
