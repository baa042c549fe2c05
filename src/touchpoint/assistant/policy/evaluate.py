"""`evaluate(policy, signals) -> Verdict`: pure, no I/O, a few microseconds per rule.

Rules are tried in order and the first whose conditions hold decides. When none fires the bot answers, unless it
is not sure what was meant (confidence under the policy's `clarify_below`, outside a flow), in which case it asks.
The verdict's `scores` hold every signal the policy can read, plus two flags the next turn counts:
`low_confidence` (the bot was unsure) and `failed` (this turn did not help: a clarification, or a "no" to "did
this answer your question?"); assistant/turns.py turns runs of them into `low_confidence_in_row` and
`failed_in_row`.
"""

from __future__ import annotations

from touchpoint.assistant.policy.rules import Conditions, EscalationPolicy, Rule, fold
from touchpoint.assistant.policy.signals import Signals, Verdict

DEFAULT_ANSWER = "default_answer"
DEFAULT_CLARIFY = "clarify_below"


class _Text:
    """The message folded for keyword matching, computed only if a keyword condition is reached."""

    __slots__ = ("folded", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.folded: str | None = None

    def get(self) -> str:
        if self.folded is None:
            self.folded = fold(self.raw)
        return self.folded


def language_not_served(signals: Signals) -> bool:
    return bool(signals.language and signals.served_languages and signals.language not in signals.served_languages)


def _holds(c: Conditions, s: Signals, text: _Text, matched: list[str]) -> bool:
    if c.intent and s.intent not in c.intent:
        return False
    if c.human_request is not None and s.human_request != c.human_request:
        return False
    if c.sentiment_below is not None and not s.sentiment < c.sentiment_below:
        return False
    if c.escalation_score_above is not None and (s.escalation_score is None
                                                 or not s.escalation_score > c.escalation_score_above):
        return False
    if c.cues and not any(cue in s.escalation_cues for cue in c.cues):
        return False
    if c.confidence_below is not None and not s.confidence < c.confidence_below:
        return False
    if c.out_of_scope is not None and s.out_of_scope != c.out_of_scope:
        return False
    if c.low_confidence_in_row_at_least is not None and s.low_confidence_in_row < c.low_confidence_in_row_at_least:
        return False
    if c.failed_in_row_at_least is not None and s.failed_in_row < c.failed_in_row_at_least:
        return False
    if c.answer_rejected is not None and s.answer_rejected != c.answer_rejected:
        return False
    if c.contact_tag and not any(tag in s.contact_tags for tag in c.contact_tag):
        return False
    if c.language_not_served is not None and language_not_served(s) != c.language_not_served:
        return False
    if c.in_flow is not None and s.in_flow != c.in_flow:
        return False
    if c.keyword_pattern is not None:
        found = c.keyword_pattern.search(text.get())
        if found is None:
            return False
        matched.append(found.group(0))
    return not c.any_of or any(_holds(block, s, text, matched) for block in c.any_of)


def signal_scores(policy: EscalationPolicy, s: Signals) -> dict[str, float]:
    scores: dict[str, float] = {
        "confidence": round(float(s.confidence), 4),
        "sentiment": round(float(s.sentiment), 4),
        "out_of_scope": float(s.out_of_scope),
        "human_request": float(s.human_request),
        "failed_in_row": float(s.failed_in_row),
        "low_confidence_in_row": float(s.low_confidence_in_row),
        "answer_rejected": float(s.answer_rejected),
        "language_not_served": float(language_not_served(s)),
        "in_flow": float(s.in_flow),
        "low_confidence": float(s.out_of_scope or s.confidence < policy.clarify_below),
    }
    if s.escalation_score is not None:
        scores["escalation_score"] = round(float(s.escalation_score), 4)
    for cue in s.escalation_cues:
        scores[f"cue:{cue}"] = 1.0
    for tag in s.contact_tags:
        scores[f"tag:{tag}"] = 1.0
    return scores


def _verdict(policy: EscalationPolicy, rule: Rule, s: Signals, scores: dict[str, float]) -> Verdict:
    escalate = rule.action == "escalate"
    return Verdict(action=rule.action, rule=rule.name, team=(rule.team or policy.default_team) if escalate else None,
                   priority=rule.priority if escalate else 0, reason=rule.reason, scores=scores,
                   needs_language=s.language if escalate and language_not_served(s) else None)


def evaluate(policy: EscalationPolicy, signals: Signals) -> Verdict:
    scores = signal_scores(policy, signals)
    text = _Text(signals.text or "")
    for rule in policy.rules:
        matched: list[str] = []
        if _holds(rule.when, signals, text, matched):
            for keyword in matched:
                scores[f"keyword:{keyword}"] = 1.0
            verdict = _verdict(policy, rule, signals, scores)
            scores["failed"] = float(verdict.action == "clarify" or signals.answer_rejected)
            return verdict
    unsure = scores["low_confidence"] and not signals.in_flow
    action = "clarify" if policy.otherwise == "clarify" or unsure else "answer"
    scores["failed"] = float(action == "clarify" or signals.answer_rejected)
    if action == "clarify":
        name = DEFAULT_CLARIFY if unsure else "otherwise_clarify"
        return Verdict("clarify", name, None, 0, "not sure what the customer means", scores)
    return Verdict("answer", DEFAULT_ANSWER, None, 0, "no rule fired", scores)
