"""From one customer message (and what the bot did in the turns before it) to the policy's `Signals`.

Pure: the live assistant and `touchpoint assistant eval` build signals with this same function, so the
evaluation measures the decision code that runs in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from touchpoint.assistant.nlu.cues import neutralise, normalise_for_cues  # pure Python: no nlu extra needed
from touchpoint.assistant.policy.sentiment import sentiment
from touchpoint.assistant.policy.signals import Signals

# Phrasings that are a request for a person whatever the model says; the policy's `human_request`.
HUMAN_PATTERNS = [re.compile(p) for p in (
    r"\b(talk|speak|chat)\b.{0,20}\b(human|person|someone|somebody|agent|representative|people|staff|manager)\b",
    r"\b(real|live|actual)\s+(person|human|agent|people)\b",
    r"^\s*(an? )?(human|agent|operator|representative|person|real person)( please| pls| now)?\s*[.!?]*\s*$",
    r"\bcustomer (service|support|care)\b",
    r"\b(can|could) (someone|somebody|you) (call|ring|phone) me\b",
    r"\b(call|ring|phone) me\b",
    r"\bconnect me\b",
)]


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What happened in this conversation's recent bot turns (see assistant.turns)."""

    failed_in_row: int = 0
    low_confidence_in_row: int = 0
    feedback_for: int | None = None  # the knowledge entry the bot just asked "did this answer…" about
    contact_tags: tuple[str, ...] = ()
    in_flow: bool = False


@dataclass(frozen=True, slots=True)
class Understood:
    """The model's reading of a message, or the words-only reading when no model is trained/installed."""

    language: str | None
    intent: str | None
    best_intent: str | None
    confidence: float
    out_of_scope: bool
    escalation_score: float | None
    cues: tuple[str, ...]
    model_version: str | None = None


def is_human_request(text: str) -> bool:
    # Same normalisation as the cues ("pls", "u", "dont"), and without the "call me" that asks for nobody
    # ("don't call me", "call me by my first name", "the driver can call me when he's near").
    lowered = neutralise(normalise_for_cues(text))
    return any(p.search(lowered) for p in HUMAN_PATTERNS)


def from_understanding(understanding: Any) -> Understood:
    """Adapter from the engine's `Understanding` (kept loose so the base install never imports numpy)."""
    prediction = understanding.intent
    escalation = understanding.escalation
    guess = understanding.language
    # An unreliable guess (a two-word message) must not send a customer to another language's team.
    language = guess.code if guess.code != "und" and guess.reliable else None
    cues = tuple(r for r in escalation.reasons if r != "model") if escalation is not None else ()
    return Understood(language=language, intent=prediction.intent, best_intent=prediction.best_intent,
                      confidence=float(prediction.confidence), out_of_scope=bool(prediction.out_of_scope),
                      escalation_score=float(escalation.probability) if escalation is not None else None,
                      cues=cues, model_version=understanding.model_version)


def words_only(text: str, language: str | None = None) -> Understood:
    """No model: no intent, but the cue patterns still read anger, sarcasm and money trouble."""
    cues: tuple[str, ...] = ()
    try:
        from touchpoint.assistant.nlu.cues import find_cues

        found = find_cues(text)
        cues = tuple(sorted(found.hits)) + (("shouting",) if found.shouting else ())
    except ImportError:  # the nlu extra is not installed
        pass
    return Understood(language=language, intent=None, best_intent=None, confidence=0.0, out_of_scope=True,
                      escalation_score=None, cues=cues)


def build_signals(text: str, understood: Understood, turn: TurnContext, *, served_languages: tuple[str, ...],
                  feedback: bool | None) -> Signals:
    # Only an explicit request counts: the policy trusts it on its own (the intent alone is weighed by the
    # escalation score, like any other intent).
    human = is_human_request(text)
    return Signals(
        text=text, language=understood.language, served_languages=served_languages, intent=understood.intent,
        confidence=understood.confidence, out_of_scope=understood.out_of_scope,
        escalation_score=understood.escalation_score, escalation_cues=understood.cues,
        sentiment=sentiment(text), human_request=human,
        failed_in_row=turn.failed_in_row + (1 if feedback is False else 0),
        low_confidence_in_row=turn.low_confidence_in_row, answer_rejected=feedback is False,
        contact_tags=turn.contact_tags, in_flow=turn.in_flow)
