"""An extractive summary of a conversation for the agent taking it over: who the customer is, what they
asked, what the bot did, and why it was handed over.

Deterministic and model-free: it picks the customer's own sentences (never paraphrases them) and reads
the bot's recorded decisions and flow slots. The optional LLM summary (assist/llm.py) is extra, never a
replacement: this one is always there and cannot invent anything.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from touchpoint.models import AssistantDecision, FlowSession, Message

ASK_CHARS = 240
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
# Words that carry no request on their own: greetings, thanks, acknowledgements, politeness.
FILLER = frozenset(
    "hi hello hey hiya yo morning evening afternoon good dear thanks thank thx ty cheers ok okay k sure yes yeah "
    "yep no nope nah please pls plz bye goodbye great perfect fine cool alright right sorry excuse me hallo hola "
    "bonjour merci gracias danke ciao oi olá obrigado obrigada there all sorted".split())
STOPWORDS = frozenset(
    "a an the i me my we our you your is are was be to of in on at for and or do does can could would will "
    "it this that with am im i'm just so".split())
HUMAN_REQUEST = re.compile(
    r"\b(talk|speak|chat)\b.{0,20}\b(human|person|someone|somebody|agent|representative|people|staff)\b"
    r"|\b(real|live)\s+(person|human|agent)\b"
    r"|^\W*(an?\s+)?(human|agent|operator|representative|person)(\s+(please|pls|now))?\W*$", re.IGNORECASE)
LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "pt": "Portuguese",
             "it": "Italian", "nl": "Dutch", "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "ar": "Arabic",
             "ru": "Russian", "tr": "Turkish", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
             "fi": "Finnish", "el": "Greek", "he": "Hebrew", "hi": "Hindi", "th": "Thai", "vi": "Vietnamese",
             "id": "Indonesian", "ms": "Malay", "uk": "Ukrainian", "cs": "Czech", "ro": "Romanian",
             "hu": "Hungarian"}
FLOW_STATES = {"active": "in progress", "waiting_action": "waiting for the brand's system",
               "waiting_approval": "waiting for an agent to approve the payment", "completed": "completed",
               "cancelled": "cancelled by the customer", "failed": "failed", "handed_off": "stopped at the handover"}
KNOWLEDGE_RULES = frozenset({"knowledge_answer", "faq_match"})
MAX_SLOTS_SHOWN = 6


@dataclass(frozen=True, slots=True)
class Summary:
    who: str
    asked: str | None           # the customer's main request, in their own words
    latest: str | None          # their latest request when it differs from the first one
    bot: tuple[str, ...]        # what the bot did, one line per kind of action
    handover: str | None        # why and where it was handed over
    handed_over_at: datetime | None = None

    def lines(self) -> list[tuple[str, str]]:
        """(label, text) rows for the panel and for plain-text use (notes, LLM prompts)."""
        rows = [("Customer", self.who)]
        if self.asked:
            rows.append(("Asked", self.asked))
        if self.latest:
            rows.append(("Then", self.latest))
        rows.extend(("Bot", line) for line in self.bot)
        if self.handover:
            rows.append(("Handover", self.handover))
        return rows

    def text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.lines())


def language_name(code: str | None) -> str | None:
    if not code:
        return None
    return LANGUAGES.get(code.lower(), code)


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def content_words(text: str) -> list[str]:
    """The words that say what someone wants: no greetings, politeness, stop words or bare numbers."""
    return [w for w in _words(text) if w not in FILLER and w not in STOPWORDS and not w.isdigit()]


def is_substantive(text: str) -> bool:
    words = content_words(text)
    # Scripts without spaces (Japanese, Chinese) come out as one long "word".
    return len(words) >= 2 or (len(words) == 1 and len(words[0]) >= 6)


def is_human_request(text: str) -> bool:
    return bool(HUMAN_REQUEST.search(text.strip()))


def condense(text: str, limit: int = ASK_CHARS) -> str:
    """The customer's sentences that carry the request, in order, without greetings; cut at a word."""
    text = " ".join(text.split()) if "\n" not in text else text
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
    kept = [s for s in sentences if is_substantive(s)] or sentences
    out = " ".join(" ".join(s.split()) for s in kept)
    if len(out) <= limit:
        return out
    cut = out[:limit].rsplit(" ", 1)[0] if " " in out[:limit] else out[:limit]
    return cut.rstrip(" ,;:") + "…"


def _customer_texts(messages: Sequence[Message]) -> list[Message]:
    return [m for m in messages if m.sender_kind == "contact" and (m.text or "").strip()]


def _pick_requests(messages: Sequence[Message]) -> tuple[str | None, str | None]:
    customer = _customer_texts(messages)
    asks = [m for m in customer if is_substantive(m.text) and not is_human_request(m.text)]
    if not asks:
        # Only "human please" or small talk: that is what they asked.
        fallback = next((m for m in customer if is_substantive(m.text) or is_human_request(m.text)), None)
        return (condense(fallback.text) if fallback else None), None
    first, last = asks[0], asks[-1]
    asked = condense(first.text)
    latest = condense(last.text) if last.id != first.id else None
    return asked, latest if latest and latest != asked else None


def _who(contact_name: str | None, channel: str | None, language: str | None,
         attributes: Mapping[str, Any] | None) -> str:
    parts = [contact_name or "Unknown contact"]
    if channel:
        parts.append(f"on {channel}")
    if language:
        parts.append(f"writes in {language_name(language)}")
    tags = sorted(str(k).upper() if str(k).lower() == "vip" else str(k)
                  for k, v in (attributes or {}).items() if v is True)
    text = ", ".join(parts)
    return text + (f" ({', '.join(tags)})" if tags else "")


def _sources(messages: Sequence[Message]) -> list[str]:
    """Titles of the knowledge entries the bot quoted, in order, each once."""
    seen: list[str] = []
    for m in messages:
        if m.sender_kind != "bot":
            continue
        source = (m.content or {}).get("source")
        if isinstance(source, Mapping):
            title = source.get("title") or source.get("question")
            if isinstance(title, str) and title.strip() and title.strip() not in seen:
                seen.append(title.strip())
    return seen


@dataclass(frozen=True, slots=True)
class _Act:
    action: str
    rule: str
    intent: str | None


def _acts(decisions: Sequence[AssistantDecision], messages: Sequence[Message]) -> list[_Act]:
    if decisions:
        return [_Act(d.action, d.rule or "", d.intent) for d in decisions]
    # Conversations from before decisions were recorded: each bot message carries its decision.
    acts = []
    for m in messages:
        decision = (m.content or {}).get("decision") if m.sender_kind == "bot" else None
        if isinstance(decision, Mapping):
            rule = str(decision.get("rule") or "")
            action = "clarify" if rule in ("not_understood", "clarify", "no_answer") else "answer"
            acts.append(_Act(action, rule, decision.get("intent")))
    return acts


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _slot_text(slots: Mapping[str, Any]) -> str:
    items = [(k, v) for k, v in slots.items() if v not in (None, "", [], {})]
    shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in items[:MAX_SLOTS_SHOWN])
    more = len(items) - MAX_SLOTS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _flow_lines(flows: Iterable[FlowSession]) -> list[str]:
    lines = []
    for flow in flows:
        state = FLOW_STATES.get(flow.status, flow.status)
        ended = (flow.state or {}).get("ended") if flow.status in ("failed", "handed_off") else None
        line = f"Ran the “{flow.flow_name}” flow: {state}"
        if ended and flow.status == "failed":
            line += f" ({ended})"
        slots = _slot_text(flow.slots or {})
        lines.append(line + (f"; collected {slots}" if slots else ""))
    return lines


def _bot_lines(acts: Sequence[_Act], messages: Sequence[Message], flows: Sequence[FlowSession]) -> tuple[str, ...]:
    lines: list[str] = []
    answered = [a for a in acts if a.rule in KNOWLEDGE_RULES]
    if answered:
        titles = _sources(messages)
        if titles:
            quoted = ", ".join(f"“{t}”" for t in titles[:3])
            quoted += f" and {len(titles) - 3} more" if len(titles) > 3 else ""
            lines.append(f"Answered from the knowledge base: {quoted}")
        else:
            lines.append(f"Answered {_plural(len(answered), 'question')} from the knowledge base")
    fixed = [a.intent for a in acts if a.rule == "intent_response" and a.intent]
    if fixed:
        lines.append("Gave the set answer for " + ", ".join(dict.fromkeys(fixed)))
    rejected = sum(1 for a in acts if a.rule == "answer_rejected")
    if rejected:
        lines.append(f"The customer said {_plural(rejected, 'answer')} did not help")
    clarified = sum(1 for a in acts if a.action == "clarify" and a.rule != "answer_rejected")
    if clarified:
        lines.append(f"Did not understand and asked to rephrase {'once' if clarified == 1 else f'{clarified} times'}")
    lines.extend(_flow_lines(flows))
    if not lines:
        lines.append("Nothing yet: the bot did not answer before the handover" if any(a.action == "escalate"
                                                                                   for a in acts)
                     else "No answers from the bot yet")
    return tuple(lines)


def _handover(conversation_status: str, handoff_reason: str | None, team_name: str | None,
              acts: Sequence[_Act], decisions: Sequence[AssistantDecision], priority: int) -> str | None:
    if conversation_status not in ("queued", "assigned", "snoozed") and not handoff_reason:
        return None
    escalation = next((d for d in reversed(decisions) if d.action == "escalate"), None)
    rule = escalation.rule if escalation else next((a.rule for a in reversed(acts) if a.action == "escalate"), None)
    reason = handoff_reason or (escalation.rule if escalation else None)
    if reason is None and rule is None:
        return None
    text = f"To {team_name}" if team_name else "To the team queue"
    if reason:
        text += f": {reason}"
    if rule and rule != reason:
        text += f" (rule {rule})"
    if priority > 0:
        text += f", priority {priority}"
    return text


def summarize(*, contact_name: str | None, channel: str | None, messages: Sequence[Message],
              decisions: Sequence[AssistantDecision] = (), flows: Sequence[FlowSession] = (),
              conversation_status: str = "bot", handoff_reason: str | None = None, team_name: str | None = None,
              handed_over_at: datetime | None = None, priority: int = 0, language: str | None = None,
              contact_attributes: Mapping[str, Any] | None = None) -> Summary:
    """The summary from what is stored. `messages` oldest first (notes excluded by the caller)."""
    if language is None:
        language = next((m.language for m in reversed(messages) if m.sender_kind == "contact" and m.language),
                        None) or next((d.language for d in reversed(decisions) if d.language), None)
    acts = _acts(decisions, messages)
    asked, latest = _pick_requests(messages)
    return Summary(who=_who(contact_name, channel, language, contact_attributes), asked=asked, latest=latest,
                   bot=_bot_lines(acts, messages, flows),
                   handover=_handover(conversation_status, handoff_reason, team_name, acts, decisions, priority),
                   handed_over_at=handed_over_at)
