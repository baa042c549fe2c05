"""Conversation stories: "the customer says X → the assistant does Y / hands off to team Z", as YAML.

```yaml
stories:
  - name: breakfast is answered from the knowledge base
    contact: {vip: true}            # optional contact attributes
    steps:
      - customer: is breakfast included?
        expect: {decision: answer, reply_contains: breakfast}
      - customer: I want to speak to a person
        expect: {decision: escalate, team: service}
```

Expectations (all optional, all must hold): `decision` (answer | flow | clarify | escalate), `rule` (exact, or a
prefix ending in `*`), `intent`, `team`, `priority_at_least`, `language`, `reply_contains` / `reply_not_contains`
(case-insensitive, over every message the customer got for this step), `status` (the conversation's status
afterwards: bot | queued | assigned …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from touchpoint.kit.errors import AppError

EXPECT_KEYS = ("decision", "rule", "intent", "team", "priority_at_least", "language", "reply_contains",
               "reply_not_contains", "status")
DECISIONS = ("answer", "flow", "clarify", "escalate")
MAX_STORIES = 500
MAX_STEPS = 50


class StoryFileError(AppError):
    status_code = 422
    code = "invalid_stories"

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}", details={"line": line, "reason": reason})


@dataclass(frozen=True, slots=True)
class Step:
    customer: str
    expect: dict[str, Any]
    line: int


@dataclass(frozen=True, slots=True)
class Story:
    name: str
    steps: tuple[Step, ...]
    contact: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True, slots=True)
class StepResult:
    """What actually happened for one customer message."""

    decision: str | None
    rule: str | None
    intent: str | None
    team: str | None
    priority: int
    language: str | None
    replies: tuple[str, ...]
    status: str


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise StoryFileError(_line(node), f"{what} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise StoryFileError(_line(key), f"{what}: keys must be plain words")
        out[str(key.value)] = value
    return out


def _scalar(node: yaml.Node, what: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise StoryFileError(_line(node), f"{what} must be a single value")
    return yaml.safe_load(yaml.serialize(node))


def _expectations(node: yaml.Node) -> dict[str, Any]:
    expect: dict[str, Any] = {}
    for key, value_node in _mapping(node, "expect").items():
        if key not in EXPECT_KEYS:
            raise StoryFileError(_line(value_node), f"unknown expectation {key!r}; known: {', '.join(EXPECT_KEYS)}")
        value = _scalar(value_node, key)
        if key == "decision" and value not in DECISIONS:
            raise StoryFileError(_line(value_node), f"decision must be one of {', '.join(DECISIONS)}")
        if key == "priority_at_least" and not isinstance(value, int):
            raise StoryFileError(_line(value_node), "priority_at_least must be a whole number")
        expect[key] = value
    return expect


def parse_stories(text: str) -> tuple[Story, ...]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise StoryFileError((mark.line + 1) if mark else 1, f"not valid YAML: {exc.problem}") from exc
    if root is None:
        raise StoryFileError(1, "the file is empty")
    top = _mapping(root, "the file")
    if "stories" not in top or not isinstance(top["stories"], yaml.SequenceNode):
        raise StoryFileError(_line(root), "expected a list under 'stories:'")
    stories = []
    for story_node in top["stories"].value[:MAX_STORIES + 1]:
        fields = _mapping(story_node, "a story")
        name = str(_scalar(fields["name"], "name")) if "name" in fields else ""
        if not name:
            raise StoryFileError(_line(story_node), "a story needs a name")
        steps_node = fields.get("steps")
        if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
            raise StoryFileError(_line(story_node), f"story {name!r} needs a list of steps")
        if len(steps_node.value) > MAX_STEPS:
            raise StoryFileError(_line(steps_node), f"story {name!r} has more than {MAX_STEPS} steps")
        steps = []
        for step_node in steps_node.value:
            step = _mapping(step_node, "a step")
            unknown = set(step) - {"customer", "expect"}
            if unknown:
                raise StoryFileError(_line(step_node), f"unknown key(s) in a step: {', '.join(sorted(unknown))}")
            said = _scalar(step["customer"], "customer") if "customer" in step else None
            if not isinstance(said, str) or not said.strip():
                raise StoryFileError(_line(step_node), "each step needs 'customer:' with what the customer writes")
            steps.append(Step(said, _expectations(step["expect"]) if "expect" in step else {}, _line(step_node)))
        contact = yaml.safe_load(yaml.serialize(fields["contact"])) if "contact" in fields else {}
        if not isinstance(contact, dict):
            raise StoryFileError(_line(fields["contact"]), "contact must be a mapping of attributes")
        stories.append(Story(name, tuple(steps), contact, _line(story_node)))
    if len(stories) > MAX_STORIES:
        raise StoryFileError(_line(root), f"more than {MAX_STORIES} stories")
    return tuple(stories)


def _rule_matches(expected: str, actual: str | None) -> bool:
    if actual is None:
        return False
    return actual.startswith(expected[:-1]) if expected.endswith("*") else actual == expected


def check(expect: dict[str, Any], result: StepResult) -> list[str]:
    """The expectations that did not hold, each as a sentence a reader understands."""
    problems = []
    text = "\n".join(result.replies).casefold()
    for key, wanted in expect.items():
        if key == "decision" and result.decision != wanted:
            problems.append(f"expected decision {wanted}, got {result.decision} (rule {result.rule})")
        elif key == "rule" and not _rule_matches(str(wanted), result.rule):
            problems.append(f"expected rule {wanted}, got {result.rule}")
        elif key == "intent" and result.intent != wanted:
            problems.append(f"expected intent {wanted}, got {result.intent}")
        elif key == "team" and result.team != wanted:
            problems.append(f"expected hand-off to team {wanted}, got {result.team or 'no hand-off'}")
        elif key == "priority_at_least" and result.priority < int(wanted):
            problems.append(f"expected priority ≥ {wanted}, got {result.priority}")
        elif key == "language" and result.language != wanted:
            problems.append(f"expected language {wanted}, got {result.language}")
        elif key == "reply_contains" and str(wanted).casefold() not in text:
            problems.append(f"expected a reply containing {wanted!r}, got {_quote(result.replies)}")
        elif key == "reply_not_contains" and re.search(re.escape(str(wanted).casefold()), text):
            problems.append(f"expected no reply containing {wanted!r}, got {_quote(result.replies)}")
        elif key == "status" and result.status != wanted:
            problems.append(f"expected conversation status {wanted}, got {result.status}")
    return problems


def _quote(replies: tuple[str, ...]) -> str:
    return " | ".join(r[:120] for r in replies) or "no reply"
