"""The send gate as a pure function: every rule, and the order in which they apply."""

from __future__ import annotations

from datetime import timedelta

import pytest

from touchpoint.kit.clock import utcnow
from touchpoint.policy.gate import Action, ConsentState, GateInput, Purpose, decide
from touchpoint.policy.keywords import classify

NOW = utcnow()


def gate(**kw):
    base = dict(channel="sms", purpose=Purpose.service, topic="service", sender_kind="bot", now=NOW)
    base.update(kw)
    return decide(GateInput(**base))


def revoked(minutes_ago=10, topic="*"):
    return ConsentState(granted=False, topic=topic, channel="sms", at=NOW - timedelta(minutes=minutes_ago))


def test_unreachable_identity_is_suppressed_first():
    verdict = gate(reachable=False, consent=revoked(), conversation_human_owned=True)
    assert verdict.action == Action.suppress and verdict.reasons == ("unreachable",)


def test_marketing_needs_an_opt_in():
    assert gate(purpose=Purpose.marketing).reasons == ("no_consent",)
    assert gate(purpose=Purpose.marketing, consent=revoked()).reasons == ("opted_out",)
    granted = ConsentState(True, "promotions", "*", NOW)
    assert gate(purpose=Purpose.marketing, consent=granted).action == Action.send


def test_opt_out_silences_service_until_the_customer_writes_again():
    assert gate(consent=revoked(), last_inbound_at=NOW - timedelta(hours=1)).reasons == ("opted_out",)
    assert gate(consent=revoked(), last_inbound_at=NOW - timedelta(minutes=1)).action == Action.send


def test_transactional_is_exempt_from_consent_and_human_ownership():
    verdict = gate(purpose=Purpose.transactional, sender_kind="system", consent=revoked(),
                   conversation_human_owned=True)
    assert verdict.action == Action.send


@pytest.mark.parametrize("sender", ["bot", "system", "campaign"])
def test_automated_senders_stay_silent_while_a_human_owns_the_conversation(sender):
    verdict = gate(sender_kind=sender, conversation_human_owned=True)
    assert verdict.action == Action.suppress and verdict.reasons == ("human_owned",)


def test_agents_may_write_in_their_own_conversation():
    assert gate(sender_kind="agent", conversation_human_owned=True).action == Action.send


def test_verdict_records_the_checks_it_ran():
    verdict = gate()
    assert verdict.to_dict()["checks"] == ["reachable", "consent", "conversation_state"]


@pytest.mark.parametrize("text,expected", [
    ("STOP", "stop"), ("stop.", "stop"), ("  Unsubscribe!", "stop"), ("ARRÊT", "stop"), ("退订", "stop"),
    ("start", "start"), ("please stop calling me", None), ("cancel", None), ("yes", None),
])
def test_consent_keywords_match_whole_messages_only(text, expected):
    assert classify(text) == expected


def test_workspace_keywords_extend_the_defaults():
    assert classify("basta", {"consent_keywords": {"stop": ["BASTA"]}}) == "stop"
    assert classify("cancel", {"consent_keywords": {"stop": ["cancel"]}}) == "stop"
