"""Parsing policies: what a valid one becomes, and every kind of mistake answered with its line and reason."""

from __future__ import annotations

import pytest

from touchpoint.assistant.policy.rules import KNOWN_CUES, PolicyError, default_policy, parse_policy

VALID = """\
version: 1
default_team: service
clarify_below: 0.3
rules:
  - name: vip
    description: VIPs first
    when:
      contact_tag: VIP
      any:
        - sentiment_below: -0.2
        - keywords: [refund, "Réclamation"]
    then: {action: escalate, team: vip-desk, priority: 3, reason: VIP unhappy}
  - name: unsure
    when: {confidence_below: 0.2, in_flow: false}
    then: {action: clarify}
"""


def test_a_valid_policy_becomes_ordered_rules_with_their_settings():
    policy = parse_policy(VALID)
    assert (policy.default_team, policy.clarify_below, policy.otherwise) == ("service", 0.3, "answer")
    assert [r.name for r in policy.rules] == ["vip", "unsure"]
    vip, unsure = policy.rules
    assert (vip.action, vip.team, vip.priority, vip.reason, vip.line) == ("escalate", "vip-desk", 3, "VIP unhappy", 5)
    assert vip.when.contact_tag == ("vip",)  # tags compare case-insensitively
    assert vip.when.any_of[1].keywords == ("refund", "Réclamation")
    assert (unsure.action, unsure.team, unsure.priority, unsure.reason) == ("clarify", None, 0, "unsure")
    as_dict = policy.to_dict()
    assert as_dict["rules"][0]["when"] == {"contact_tag": ["vip"], "any": [
        {"sentiment_below": -0.2}, {"keywords": ["refund", "Réclamation"]}]}
    assert as_dict["rules"][1]["then"] == {"action": "clarify", "reason": "unsure"}


def test_the_shipped_default_policy_parses_and_names_its_rules():
    names = [r.name for r in default_policy().rules]
    assert names[:5] == ["vip_trouble", "complaint", "payment_problem", "legal_threat", "human_request"]
    assert {"language_not_served", "repeated_failure", "out_of_scope_again", "out_of_scope"} <= set(names)


def test_known_cues_are_the_cues_the_nlu_package_can_fire():
    cues = pytest.importorskip("touchpoint.assistant.nlu.cues")
    assert set(KNOWN_CUES) == {*cues.CUE_NAMES, "shouting"}


def _rules(body: str) -> str:
    return "rules:\n" + body


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("", 1, "the policy is empty"),
    ("rules: [\n  - name: x\n", 2, "not valid YAML"),
    ("rules:\n  - name: a\n    when: {intent: x}\n   then: {}\n", 4, "not valid YAML"),
    ("- just\n- a list\n", 1, "the policy must be a mapping"),
    ("default_team: service\n", 1, "needs 'rules'"),
    ("version: 2\nrules: []\n", 1, "version must be 1"),
    ("rules: []\nclarify_below: 2\n", 2, "clarify_below must be a number from 0 to 1"),
    ("rules: []\notherwise: escalate\n", 2, "otherwise must be answer or clarify"),
    ("rules: []\ndefault_team: Service Team\n", 2, "default_team must be a team slug"),
    ("rules: []\nrulez: []\n", 2, "unknown key 'rulez' in the policy (did you mean 'rules'?)"),
    ("rules: {a: 1}\n", 1, "rules must be a list"),
    (_rules("  - when: {intent: x}\n    then: {action: escalate}\n"), 2, "a rule needs 'name'"),
    (_rules("  - name: a\n    then: {action: escalate}\n"), 2, "a rule needs 'when'"),
    (_rules("  - name: a\n    when: {intent: x}\n"), 2, "a rule needs 'then'"),
    (_rules("  - name: Big Rule\n    when: {intent: x}\n    then: {action: answer}\n"), 2, "rule name 'Big Rule'"),
    (_rules("  - name: a\n    when: {intent: x}\n    then: {action: answer}\n"
            "  - name: a\n    when: {intent: y}\n    then: {action: answer}\n"), 5, "two rules are named 'a'"),
    (_rules("  - name: a\n    when:\n      sentimnt_below: -0.5\n    then: {action: escalate}\n"), 4,
     "unknown key 'sentimnt_below' in the 'when' of rule 'a' (did you mean 'sentiment_below'?)"),
    (_rules("  - name: a\n    when:\n      sentiment_below: -3\n    then: {action: escalate}\n"), 4,
     "sentiment_below must be a number from -1 to 1"),
    (_rules("  - name: a\n    when:\n      escalation_score_above: high\n    then: {action: escalate}\n"), 4,
     "escalation_score_above must be a number from 0 to 1"),
    (_rules("  - name: a\n    when:\n      failed_in_row_at_least: 1.5\n    then: {action: escalate}\n"), 4,
     "failed_in_row_at_least must be a whole number"),
    (_rules("  - name: a\n    when:\n      human_request: maybe\n    then: {action: escalate}\n"), 4,
     "human_request must be true or false"),
    (_rules("  - name: a\n    when:\n      cues: [complaint, anger]\n    then: {action: escalate}\n"), 4,
     "unknown cue 'anger'"),
    (_rules("  - name: a\n    when:\n      keywords: []\n    then: {action: escalate}\n"), 4,
     "keywords is an empty list"),
    (_rules("  - name: a\n    when:\n      intent: {a: b}\n    then: {action: escalate}\n"), 4,
     "intent must be a single value"),
    (_rules("  - name: a\n    when: {}\n    then: {action: escalate}\n"), 3, "has no conditions"),
    (_rules("  - name: a\n    when:\n      always: false\n    then: {action: escalate}\n"), 4,
     "'always' can only be true"),
    (_rules("  - name: a\n    when:\n      any: []\n    then: {action: escalate}\n"), 4, "'any' must be a non-empty"),
    (_rules("  - name: a\n    when: {intent: x}\n    then:\n      team: service\n"), 4, "needs 'action'"),
    (_rules("  - name: a\n    when: {intent: x}\n    then:\n      action: panic\n"), 5, "action must be one of"),
    (_rules("  - name: a\n    when: {intent: x}\n    then:\n      action: clarify\n      team: service\n"), 6,
     "'team' only applies to action escalate"),
    (_rules("  - name: a\n    when: {intent: x}\n    then:\n      action: escalate\n      priority: 11\n"), 6,
     "priority must be a whole number from 0 to 10"),
    (_rules("  - name: a\n    when: {intent: x}\n    then:\n      action: escalate\n      team: Sales Team\n"), 6,
     "team must be a team slug"),
    (_rules("  - name: a\n    when: {intent: x}\n    then:\n      action: escalate\n      reason: ''\n"), 6,
     "reason must be 1 to 200 characters"),
    (_rules("  - name: a\n    when: {intent: !!python/object:os.system x}\n    then: {action: answer}\n"), 3,
     "not valid YAML"),
])
def test_mistakes_are_a_422_with_the_line_and_the_reason(text, line, reason):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    error = caught.value
    assert error.status_code == 422 and error.code == "invalid_policy"
    assert reason in error.reason, error.reason
    assert error.line == line, (error.line, error.reason)
    assert error.message.startswith(f"line {line}: ")
    assert error.to_dict()["error"]["details"] == {"line": line, "reason": error.reason}


def test_hostile_input_is_refused_without_blowing_up():
    # Aliases: a 30 KB file whose tree would have hundreds of thousands of nodes.
    blocks = ", ".join(["{intent: x}"] * 40)
    bomb = ("rules:\n  - name: a\n    when:\n      any: &blocks [" + blocks + "]\n    then: {action: answer}\n"
            "  - name: b\n    when:\n      any: [" + ", ".join(["{any: *blocks}"] * 2000) + "]\n"
            "    then: {action: answer}\n")
    with pytest.raises(PolicyError, match="too large"):
        parse_policy(bomb)
    with pytest.raises(PolicyError, match="longer than"):
        parse_policy("rules: []\n" + "#" * 100_001)
    with pytest.raises(PolicyError, match="nests"):
        parse_policy("rules: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(PolicyError):
        parse_policy("\x00\x01binary")
