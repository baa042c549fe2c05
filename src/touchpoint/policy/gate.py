"""The send gate: one pure function that every outbound message passes.

Checks, in DESIGN §2 order: identity reachable; consent and opt-out for topic and channel; (provider
window and template; quotas; quiet hours; frequency caps: later issues, in this same function);
conversation state (a human owns it: automated messages stay silent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Purpose(enum.StrEnum):
    transactional = "transactional"  # receipts, confirmations, consent confirmations: consent-exempt
    service = "service"              # replies in a conversation the customer started
    marketing = "marketing"          # promotions: needs an opt-in for the topic


class Action(enum.StrEnum):
    send = "send"
    defer = "defer"
    fallback = "fallback"
    suppress = "suppress"


AUTOMATED_SENDERS = frozenset({"bot", "system", "campaign"})


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The consent record in force for this topic and channel (most recent applicable one)."""

    granted: bool
    topic: str
    channel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class GateInput:
    channel: str
    purpose: Purpose
    topic: str
    sender_kind: str
    now: datetime
    reachable: bool = True
    consent: ConsentState | None = None
    conversation_human_owned: bool = False
    last_inbound_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reasons: tuple[str, ...] = ()
    until: datetime | None = None
    fallback_channel: str | None = None
    checks: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.value, "reasons": list(self.reasons), "checks": list(self.checks),
                "until": self.until.isoformat() if self.until else None,
                "fallback_channel": self.fallback_channel}


def decide(gate: GateInput) -> Verdict:
    checks: list[str] = []

    checks.append("reachable")
    if not gate.reachable:
        return Verdict(Action.suppress, ("unreachable",), checks=tuple(checks))

    checks.append("consent")
    consent_reason = _consent_problem(gate)
    if consent_reason:
        return Verdict(Action.suppress, (consent_reason,), checks=tuple(checks))

    checks.append("conversation_state")
    if gate.conversation_human_owned and gate.sender_kind in AUTOMATED_SENDERS \
            and gate.purpose != Purpose.transactional:
        return Verdict(Action.suppress, ("human_owned",), checks=tuple(checks))

    return Verdict(Action.send, (), checks=tuple(checks))


def _consent_problem(gate: GateInput) -> str | None:
    if gate.purpose == Purpose.transactional:
        return None
    consent = gate.consent
    if gate.purpose == Purpose.marketing:
        if consent is None:
            return "no_consent"
        return None if consent.granted else "opted_out"
    # Service: an opt-out silences us until the customer writes again (re-engages) or opts back in.
    if consent is not None and not consent.granted:
        if gate.last_inbound_at is None or gate.last_inbound_at <= consent.at:
            return "opted_out"
    return None
