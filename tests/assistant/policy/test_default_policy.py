"""The shipped policy on clear examples: who goes to a person, with which priority and reason, and who does not."""

from __future__ import annotations

import pytest

from tests.assistant.policy.support import signals
from touchpoint.assistant.policy import default_policy, evaluate, sentiment

POLICY = default_policy()
VIP = ("escalate", "vip_trouble", "service", 3)


def decide(**changes):
    verdict = evaluate(POLICY, signals(**changes))
    return verdict.action, verdict.rule, verdict.team, verdict.priority


@pytest.mark.parametrize(("changes", "expected"), [
    ({"human_request": True, "escalation_score": 0.9}, ("escalate", "human_request", "service", 1)),
    ({"escalation_cues": ("human_request",)}, ("escalate", "human_request", "service", 1)),
    ({"intent": "complaint", "escalation_score": 0.7}, ("escalate", "complaint", "service", 2)),
    ({"escalation_cues": ("sarcasm",)}, ("escalate", "complaint", "service", 2)),
    ({"intent": "payment_problem", "escalation_score": 0.6}, ("escalate", "payment_problem", "service", 2)),
    ({"escalation_cues": ("payment_trouble",), "intent": None, "out_of_scope": True},
     ("escalate", "payment_problem", "service", 2)),
    ({"text": "I'm passing this to my lawyer"}, ("escalate", "legal_threat", "service", 2)),
    ({"sentiment": -0.7}, ("escalate", "negative_sentiment", "service", 2)),
    ({"escalation_score": 0.8}, ("escalate", "escalation_score", "service", 2)),
    ({"failed_in_row": 2}, ("escalate", "repeated_failure", "service", 1)),
    ({"answer_rejected": True, "failed_in_row": 2}, ("escalate", "repeated_failure", "service", 1)),
    ({"contact_tags": ("vip",), "escalation_cues": ("complaint",)}, VIP),
    ({"contact_tags": ("vip",), "human_request": True, "escalation_score": 0.8}, VIP),
    ({"contact_tags": ("vip",), "text": "my solicitor will hear of this"}, VIP),
    ({"contact_tags": ("vip",), "answer_rejected": True, "failed_in_row": 1}, VIP),
    ({"contact_tags": ("vip",), "sentiment": -0.6}, VIP),
])
def test_trouble_goes_to_a_person_with_its_priority(changes, expected):
    assert decide(**changes) == expected


def test_an_intent_alone_needs_the_escalation_model_to_agree():
    # With a handful of intents, "how do I pay my bill?" is nearest to payment_problem: not trouble by itself.
    for intent in ("payment_problem", "complaint", "human_request"):
        assert decide(intent=intent, escalation_score=0.2)[0] == "answer"
        assert decide(intent=intent, escalation_score=None)[0] == "answer"
        assert decide(intent=intent, escalation_score=0.7)[0] == "escalate"
    # complaint and payment_problem have their own "intent confirmed" rules at 0.5; any other intent needs the
    # model alone over 0.6 (the escalation_score rule).
    assert decide(intent="payment_problem", escalation_score=0.55)[1] == "payment_problem"
    assert decide(intent="human_request", escalation_score=0.55)[0] == "answer"
    # An explicit request for a person ("can I talk to someone") is enough on its own, model or not.
    assert decide(human_request=True, intent="human_request", escalation_score=0.2)[0] == "escalate"
    assert decide(human_request=True, intent=None, escalation_score=None)[0] == "escalate"
    # The named cues need no second opinion.
    assert decide(intent=None, escalation_score=None, escalation_cues=("payment_trouble",))[0] == "escalate"


def test_the_reasons_agents_see():
    assert evaluate(POLICY, signals(escalation_cues=("human_request",))).reason == "asked for a person"
    assert evaluate(POLICY, signals(escalation_cues=("payment_trouble",))).reason == "billing trouble"
    assert evaluate(POLICY, signals(out_of_scope=True, low_confidence_in_row=1)).reason == \
        "bot did not understand twice"


@pytest.mark.parametrize("changes", [
    {}, {"intent": "greeting"}, {"intent": "thanks", "sentiment": 0.6}, {"intent": "pay_bill"},
    {"contact_tags": ("vip",)}, {"contact_tags": ("vip",), "intent": "greeting", "sentiment": -0.2},
    {"sentiment": -0.45, "intent": "late_checkout"}, {"escalation_score": 0.3, "escalation_cues": ("shouting",)},
    {"text": "is there a court nearby for tennis?"}, {"failed_in_row": 1},
])
def test_ordinary_requests_are_answered(changes):
    assert decide(**changes) == ("answer", "default_answer", None, 0)


def test_not_understood_asks_once_then_hands_over():
    assert decide(intent=None, out_of_scope=True, confidence=0.2) == ("clarify", "out_of_scope", None, 0)
    assert decide(intent=None, out_of_scope=True, confidence=0.2, low_confidence_in_row=1) == \
        ("escalate", "out_of_scope_again", "service", 1)


def test_a_no_to_did_this_answer_asks_for_more_then_hands_over():
    assert decide(answer_rejected=True, failed_in_row=1) == ("clarify", "answer_rejected", None, 0)
    assert decide(answer_rejected=True, failed_in_row=2)[0] == "escalate"


def test_a_language_the_assistant_does_not_serve_goes_to_people_who_speak_it():
    verdict = evaluate(POLICY, signals(language="pt", served_languages=("en",), intent=None, out_of_scope=True))
    assert (verdict.action, verdict.rule, verdict.team, verdict.priority, verdict.needs_language) == \
        ("escalate", "language_not_served", "service", 1, "pt")
    complaint = evaluate(POLICY, signals(language="pt", served_languages=("en",), escalation_cues=("complaint",)))
    assert (complaint.rule, complaint.needs_language) == ("complaint", "pt")


def test_inside_a_flow_slot_answers_are_not_clarified_but_trouble_still_escalates():
    assert decide(in_flow=True, intent=None, out_of_scope=True, confidence=0.1, low_confidence_in_row=3)[0] == "answer"
    assert decide(in_flow=True, escalation_cues=("human_request",))[1] == "human_request"
    assert decide(in_flow=True, intent="complaint", escalation_score=0.9)[1] == "complaint"


@pytest.mark.parametrize(("text", "rule"), [
    ("I was charged twice for my room", "payment_problem"),
    ("thanks for nothing", "complaint"),
    ("This is absolutely disgusting, worst stay ever", "complaint"),
    ("can someone call me back please", "human_request"),
])
def test_words_alone_catch_clear_trouble_without_a_model(text, rule):
    cues = pytest.importorskip("touchpoint.assistant.nlu.cues")
    found = cues.find_cues(text)
    fired = tuple(found.hits) + (("shouting",) if found.shouting else ())
    verdict = evaluate(POLICY, signals(text=text, intent=None, out_of_scope=True, confidence=0.0,
                                       escalation_score=None, escalation_cues=fired, sentiment=sentiment(text)))
    assert (verdict.action, verdict.rule) == ("escalate", rule)
