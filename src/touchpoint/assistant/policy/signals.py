"""What the escalation policy reads about one customer message, and what it decides.

Both are plain values: `evaluate(policy, signals)` is pure, and the verdict's `scores` carry every signal it
read so a stored decision explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signals:
    text: str
    language: str | None            # detected, ISO 639-1
    served_languages: tuple[str, ...]  # the workspace's assistant languages; () = any
    intent: str | None              # top intent, None when out of scope
    confidence: float               # 0..1
    out_of_scope: bool
    escalation_score: float | None  # 0..1 from the NLU escalation scorer, None without a model
    escalation_cues: tuple[str, ...]  # cue names that fired (assistant/nlu/cues.py)
    sentiment: float                # -1..1
    human_request: bool             # explicit request for a person (pattern or intent)
    failed_in_row: int              # consecutive bot turns that did not help (clarify, "no" feedback)
    low_confidence_in_row: int      # consecutive low-confidence turns before this one
    answer_rejected: bool           # this message is a "no" to "did this answer your question?"
    contact_tags: tuple[str, ...]   # contact attributes "vip": true → "vip"; segments later
    in_flow: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str                     # answer | clarify | escalate
    rule: str                       # name of the rule that decided ("default_answer" when none fired)
    team: str | None                # team slug for escalate (None: the policy's default team)
    priority: int
    reason: str                     # shown to agents
    scores: dict[str, float]
    needs_language: str | None = None  # route to a team speaking this language
