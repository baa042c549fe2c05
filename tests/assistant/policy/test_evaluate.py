"""evaluate(policy, signals): every condition, first match wins, the fall-backs, and self-explaining scores."""

from __future__ import annotations

import pytest

from tests.assistant.policy.support import signals
from touchpoint.assistant.policy.evaluate import evaluate
from touchpoint.assistant.policy.rules import parse_policy


def one_rule(when: str, then: str = "{action: escalate, team: desk, priority: 4, reason: fired}") -> str:
    return f"default_team: service\nclarify_below: 0.4\nrules:\n  - name: r\n    when: {when}\n    then: {then}\n"


# (condition, signals that make it hold, signals that do not)
CASES = [
    ("{intent: [complaint, payment_problem]}", {"intent": "payment_problem"}, {"intent": "booking_question"}),
    ("{human_request: true}", {"human_request": True}, {"human_request": False}),
    ("{sentiment_below: -0.5}", {"sentiment": -0.6}, {"sentiment": -0.5}),
    ("{escalation_score_above: 0.5}", {"escalation_score": 0.51}, {"escalation_score": None}),
    ("{escalation_score_above: 0.5}", {"escalation_score": 0.9}, {"escalation_score": 0.5}),
    ("{cues: [sarcasm, complaint]}", {"escalation_cues": ("shouting", "sarcasm")}, {"escalation_cues": ("shouting",)}),
    ("{confidence_below: 0.3}", {"confidence": 0.29}, {"confidence": 0.3}),
    ("{out_of_scope: true}", {"out_of_scope": True}, {"out_of_scope": False}),
    ("{low_confidence_in_row_at_least: 2}", {"low_confidence_in_row": 2}, {"low_confidence_in_row": 1}),
    ("{failed_in_row_at_least: 2}", {"failed_in_row": 3}, {"failed_in_row": 1}),
    ("{answer_rejected: true}", {"answer_rejected": True}, {"answer_rejected": False}),
    ("{contact_tag: [VIP, press]}", {"contact_tags": ("gold", "vip")}, {"contact_tags": ("gold",)}),
    ("{language_not_served: true}", {"language": "pt"}, {"language": "en"}),
    ("{language_not_served: true}", {"language": "pt"}, {"language": None}),
    ("{language_not_served: true}", {"language": "pt"}, {"language": "pt", "served_languages": ()}),
    ("{in_flow: true}", {"in_flow": True}, {"in_flow": False}),
    ("{always: true}", {}, None),
    ("{keywords: [lawyer, legal action]}", {"text": "I'll get my LAWYER involved"}, {"text": "law school"}),
    ("{keywords: [legal action]}", {"text": "we are taking legal\n  action"}, {"text": "illegal actions"}),
    ("{keywords: [sue]}", {"text": "I will sue."}, {"text": "there is an issue with my suede shoes"}),
    ("{keywords: [réclamation]}", {"text": "Je fais une RECLAMATION"}, {"text": "réclamations"}),
    ("{keywords: [reclamacao]}", {"text": "quero fazer uma reclamação"}, {"text": "reclama"}),
]


@pytest.mark.parametrize(("when", "holds", "fails"), CASES)
def test_each_condition_decides_on_its_own_signal(when, holds, fails):
    policy = parse_policy(one_rule(when))
    fired = evaluate(policy, signals(**holds))
    assert (fired.action, fired.rule, fired.team, fired.priority, fired.reason) == ("escalate", "r", "desk", 4, "fired")
    if fails is not None:
        assert evaluate(policy, signals(**fails)).rule in ("default_answer", "clarify_below")


def test_all_conditions_of_a_rule_must_hold_and_any_blocks_need_one():
    policy = parse_policy(one_rule("{contact_tag: vip, any: [{sentiment_below: -0.5}, {intent: complaint}]}"))
    assert evaluate(policy, signals(contact_tags=("vip",), intent="complaint")).rule == "r"
    assert evaluate(policy, signals(contact_tags=("vip",), sentiment=-0.7)).rule == "r"
    assert evaluate(policy, signals(contact_tags=("vip",))).rule == "default_answer"
    assert evaluate(policy, signals(intent="complaint", sentiment=-0.9)).rule == "default_answer"


def test_rules_are_tried_in_order_and_the_first_match_wins():
    policy = parse_policy("""\
rules:
  - {name: first, when: {intent: complaint}, then: {action: escalate, priority: 2}}
  - {name: second, when: {sentiment_below: -0.5}, then: {action: escalate, team: other, priority: 9}}
  - {name: calm, when: {intent: greeting}, then: {action: answer}}
  - {name: never, when: {sentiment_below: -0.1}, then: {action: escalate}}
""")
    verdict = evaluate(policy, signals(intent="complaint", sentiment=-0.9))
    assert (verdict.rule, verdict.team, verdict.priority) == ("first", "service", 2)  # default team filled in
    assert evaluate(policy, signals(sentiment=-0.9)).rule == "second"
    assert evaluate(policy, signals(intent="greeting", sentiment=-0.3)).rule == "calm"


def test_when_nothing_fires_the_bot_answers_or_asks_when_unsure():
    policy = parse_policy("clarify_below: 0.4\nrules: []\n")
    answer = evaluate(policy, signals(confidence=0.8))
    assert (answer.action, answer.rule, answer.team, answer.priority) == ("answer", "default_answer", None, 0)
    unsure = evaluate(policy, signals(confidence=0.39))
    assert (unsure.action, unsure.rule) == ("clarify", "clarify_below")
    assert evaluate(policy, signals(out_of_scope=True, intent=None)).action == "clarify"
    # Inside a flow a slot answer ("tomorrow at 3") has no intent: the flow handles it, no clarification.
    assert evaluate(policy, signals(confidence=0.1, in_flow=True)).action == "answer"
    cautious = parse_policy("otherwise: clarify\nrules: []\n")
    assert (evaluate(cautious, signals(confidence=0.99)).rule) == "otherwise_clarify"


def test_a_language_the_assistant_does_not_serve_asks_for_a_team_speaking_it():
    policy = parse_policy(one_rule("{intent: complaint}"))
    verdict = evaluate(policy, signals(intent="complaint", language="pt", served_languages=("en", "es")))
    assert verdict.needs_language == "pt"
    assert evaluate(policy, signals(intent="complaint")).needs_language is None
    clarify = parse_policy(one_rule("{language_not_served: true}", "{action: clarify}"))
    assert evaluate(clarify, signals(language="pt")).needs_language is None  # only an escalation is routed


def test_scores_explain_the_decision():
    policy = parse_policy(one_rule("{keywords: [chargeback]}"))
    verdict = evaluate(policy, signals(text="I'll do a Chargeback", escalation_cues=("complaint",), sentiment=-0.25,
                                       contact_tags=("vip",), escalation_score=0.42, confidence=0.3,
                                       failed_in_row=1))
    assert verdict.scores == {
        "confidence": 0.3, "sentiment": -0.25, "out_of_scope": 0.0, "human_request": 0.0, "failed_in_row": 1.0,
        "low_confidence_in_row": 0.0, "answer_rejected": 0.0, "language_not_served": 0.0, "in_flow": 0.0,
        "low_confidence": 1.0, "escalation_score": 0.42, "cue:complaint": 1.0, "tag:vip": 1.0,
        "keyword:chargeback": 1.0, "failed": 0.0}
    clarified = evaluate(parse_policy("rules: []\n"), signals(confidence=0.1))
    assert (clarified.scores["failed"], clarified.scores["low_confidence"]) == (1.0, 1.0)
    rejected = evaluate(parse_policy("rules: []\n"), signals(answer_rejected=True))
    assert rejected.scores["failed"] == 1.0
    assert all(isinstance(v, float) for v in verdict.scores.values())


def test_evaluation_is_pure_no_state_carries_over_between_calls():
    from touchpoint.assistant.policy.rules import default_policy

    policy = default_policy()
    angry = signals(text="This is a disgrace", sentiment=-0.8, contact_tags=("vip",))
    calm = signals(text="What time is breakfast?")
    first = evaluate(policy, angry)
    assert evaluate(policy, calm).action == "answer"
    again = evaluate(policy, angry)
    assert again == first and again.scores is not first.scores
    again.scores["tampered"] = 1.0
    assert "tampered" not in evaluate(policy, angry).scores
