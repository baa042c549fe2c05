"""The escalation policy as data: ordered rules (first match wins) and the YAML they are written in.

A rule's `when` holds conditions that must all be true (a list value means any of its items); `any:` nests a list
of such blocks of which one must hold. Parsing walks the YAML node tree rather than the loaded dict so that every
error names the line it is on: an administrator importing a policy gets "line 14: unknown condition
'sentimnt_below' (did you mean 'sentiment_below'?)" as a 422, and the running version stays untouched.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from touchpoint.kit.errors import AppError

ACTIONS = ("escalate", "clarify", "answer")
# The cue names of assistant/nlu/cues.py plus "shouting" (kept here: importing the nlu package needs numpy).
KNOWN_CUES = ("human_request", "complaint", "sarcasm", "payment_trouble", "shouting")
MAX_SOURCE_CHARS = 100_000
MAX_NODES = 20_000  # YAML aliases can make a small file a huge tree
MAX_PRIORITY = 10
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")


class PolicyError(AppError):
    status_code = 422
    code = "invalid_policy"

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}", details={"line": line, "reason": reason})
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Conditions:
    """All set fields must hold; an empty tuple or None means "not a condition of this rule"."""

    intent: tuple[str, ...] = ()
    human_request: bool | None = None
    sentiment_below: float | None = None
    escalation_score_above: float | None = None
    cues: tuple[str, ...] = ()
    confidence_below: float | None = None
    out_of_scope: bool | None = None
    low_confidence_in_row_at_least: int | None = None
    failed_in_row_at_least: int | None = None
    answer_rejected: bool | None = None
    contact_tag: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    language_not_served: bool | None = None
    in_flow: bool | None = None
    always: bool = False
    any_of: tuple[Conditions, ...] = ()
    # Compiled once at parse time: evaluation must stay a few microseconds per rule.
    keyword_pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in CONDITION_KINDS:
            value = getattr(self, name)
            if value is None or value == () or (value is False and name == "always"):
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        if self.any_of:
            out["any"] = [c.to_dict() for c in self.any_of]
        return out


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Conditions
    action: str  # escalate | clarify | answer
    team: str | None  # team slug; None: the policy's default team
    priority: int
    reason: str
    line: int = 0  # where the rule starts in the source

    def to_dict(self) -> dict[str, Any]:
        then: dict[str, Any] = {"action": self.action, "reason": self.reason}
        if self.action == "escalate":
            then.update(team=self.team, priority=self.priority)
        return {"name": self.name, "when": self.when.to_dict(), "then": then, "line": self.line}


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    rules: tuple[Rule, ...]
    default_team: str | None = "service"
    # Below this intent confidence the bot asks the customer to rephrase instead of answering.
    clarify_below: float = 0.4
    # What the bot does when no rule fires: answer (or clarify, for a cautious workspace).
    otherwise: str = "answer"
    source: str = field(default="", compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"default_team": self.default_team, "clarify_below": self.clarify_below,
                "otherwise": self.otherwise, "rules": [r.to_dict() for r in self.rules]}


# Condition name -> kind of value it takes.
CONDITION_KINDS: dict[str, str] = {
    "intent": "names", "human_request": "bool", "sentiment_below": "sentiment", "escalation_score_above": "unit",
    "cues": "cues", "confidence_below": "unit", "out_of_scope": "bool", "low_confidence_in_row_at_least": "count",
    "failed_in_row_at_least": "count", "answer_rejected": "bool", "contact_tag": "names", "keywords": "keywords",
    "language_not_served": "bool", "in_flow": "bool", "always": "true",
}
_TOP_KEYS = ("version", "default_team", "clarify_below", "otherwise", "rules")
_RULE_KEYS = ("name", "description", "when", "then")
_THEN_KEYS = ("action", "team", "priority", "reason")


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for keywords: "Réclamation" and "reclamation" match."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """Whole words or phrases only: "sue" matches "I will sue you", never "issue"."""
    parts = sorted({r"\s+".join(re.escape(w) for w in fold(k).split()) for k in keywords}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def _suggest(word: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(known)}"


class _Reader:
    """Turns YAML nodes into values, remembering where each came from."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.nodes = 0

    def line(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    def count(self, node: yaml.Node) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise PolicyError(self.line(node), f"the policy is too large (more than {MAX_NODES} YAML nodes)")

    def mapping(self, node: yaml.Node, what: str, keys: tuple[str, ...]) -> dict[str, tuple[yaml.Node, int]]:
        self.count(node)
        if not isinstance(node, yaml.MappingNode):
            raise PolicyError(self.line(node), f"{what} must be a mapping of keys to values")
        out: dict[str, tuple[yaml.Node, int]] = {}
        for key_node, value_node in node.value:
            self.count(key_node)
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = self.line(key_node)
            if not isinstance(key, str) or key not in keys:
                raise PolicyError(line, f"unknown key '{key}' in {what}{_suggest(str(key), keys)}")
            if key in out:
                raise PolicyError(line, f"'{key}' appears twice in {what}")
            out[key] = (value_node, line)
        return out

    def scalar(self, node: yaml.Node, what: str) -> Any:
        self.count(node)
        if not isinstance(node, yaml.ScalarNode):
            raise PolicyError(self.line(node), f"{what} must be a single value")
        return self.loader.construct_object(node, deep=True)

    def scalars(self, node: yaml.Node, what: str) -> list[tuple[Any, int]]:
        """A single value or a list of values (each with its line)."""
        if isinstance(node, yaml.SequenceNode):
            self.count(node)
            items = [(self.scalar(item, f"each item of {what}"), self.line(item)) for item in node.value]
            if not items:
                raise PolicyError(self.line(node), f"{what} is an empty list")
            return items
        return [(self.scalar(node, what), self.line(node))]


def _number(value: Any, line: int, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(line, f"{what} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _integer(value: Any, line: int, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(line, f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _boolean(value: Any, line: int, what: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(line, f"{what} must be true or false, not {value!r}")
    return value


def _text(value: Any, line: int, what: str, limit: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PolicyError(line, f"{what} must be text, not {value!r}")
    text = str(value).strip()
    if not text or len(text) > limit:
        raise PolicyError(line, f"{what} must be 1 to {limit} characters")
    return text


def _conditions(reader: _Reader, node: yaml.Node, what: str, depth: int = 0) -> Conditions:
    keys = (*CONDITION_KINDS, "any")
    fields: dict[str, Any] = {}
    for key, (value_node, line) in reader.mapping(node, what, keys).items():
        if key == "any":
            if depth >= 2:
                raise PolicyError(line, "'any' can be nested at most twice")
            if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
                raise PolicyError(line, "'any' must be a non-empty list of condition blocks")
            reader.count(value_node)
            fields["any_of"] = tuple(_conditions(reader, item, "an 'any' block", depth + 1)
                                     for item in value_node.value)
            continue
        kind = CONDITION_KINDS[key]
        if kind in ("names", "cues", "keywords"):
            items = reader.scalars(value_node, key)
            values = tuple(_text(v, item_line, f"each item of {key}", 100) for v, item_line in items)
            if kind == "cues":
                for (_, item_line), cue in zip(items, values, strict=True):
                    if cue not in KNOWN_CUES:
                        raise PolicyError(item_line, f"unknown cue '{cue}'{_suggest(cue, KNOWN_CUES)}")
            elif kind == "names":
                values = tuple(v.casefold() if key == "contact_tag" else v for v in values)
            fields[key] = values
            if kind == "keywords":
                fields["keyword_pattern"] = keyword_pattern(values)
            continue
        value = reader.scalar(value_node, key)
        if kind == "bool":
            fields[key] = _boolean(value, line, key)
        elif kind == "true":
            if value is not True:
                raise PolicyError(line, "'always' can only be true (leave it out otherwise)")
            fields[key] = True
        elif kind == "sentiment":
            fields[key] = _number(value, line, key, -1.0, 1.0)
        elif kind == "unit":
            fields[key] = _number(value, line, key, 0.0, 1.0)
        else:
            fields[key] = _integer(value, line, key, 0, 100)
    if not fields:
        raise PolicyError(reader.line(node), f"{what} has no conditions (use 'always: true' for a catch-all)")
    return Conditions(**fields)


def _rule(reader: _Reader, node: yaml.Node, names: set[str]) -> Rule:
    start = reader.line(node)
    keys = reader.mapping(node, "a rule", _RULE_KEYS)
    for required in ("name", "when", "then"):
        if required not in keys:
            raise PolicyError(start, f"a rule needs '{required}'")
    name_node, name_line = keys["name"]
    name = _text(reader.scalar(name_node, "name"), name_line, "name", 100)
    if not _NAME.match(name):
        raise PolicyError(name_line, f"rule name '{name}': use lowercase letters, digits, '_', '-' and '.'")
    if name in names:
        raise PolicyError(name_line, f"two rules are named '{name}'")
    names.add(name)
    if "description" in keys:
        _text(reader.scalar(keys["description"][0], "description"), keys["description"][1], "description", 500)
    when = _conditions(reader, keys["when"][0], f"the 'when' of rule '{name}'")
    then_node, then_line = keys["then"]
    then = reader.mapping(then_node, f"the 'then' of rule '{name}'", _THEN_KEYS)
    if "action" not in then:
        raise PolicyError(then_line, f"the 'then' of rule '{name}' needs 'action' ({' | '.join(ACTIONS)})")
    action_node, action_line = then["action"]
    action = reader.scalar(action_node, "action")
    if action not in ACTIONS:
        raise PolicyError(action_line, f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    team = None
    priority = 0
    for key in ("team", "priority"):
        if key in then and action != "escalate":
            raise PolicyError(then[key][1], f"'{key}' only applies to action escalate")
    if "team" in then:
        value = reader.scalar(then["team"][0], "team")
        if value is not None:
            team = _text(value, then["team"][1], "team", 64)
            if not _SLUG.match(team):
                raise PolicyError(then["team"][1], f"team must be a team slug (like 'service'), not {team!r}")
    if "priority" in then:
        priority = _integer(reader.scalar(then["priority"][0], "priority"), then["priority"][1], "priority", 0,
                            MAX_PRIORITY)
    reason = name.replace("_", " ")
    if "reason" in then:
        reason = _text(reader.scalar(then["reason"][0], "reason"), then["reason"][1], "reason", 200)
    return Rule(name=name, when=when, action=action, team=team, priority=priority, reason=reason, line=start)


def parse_policy(text: str) -> EscalationPolicy:
    """The policy in `text` (YAML), or a 422 PolicyError naming the line and the reason."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError(1, "the policy is empty")
    if len(text) > MAX_SOURCE_CHARS:
        raise PolicyError(1, f"the policy is longer than {MAX_SOURCE_CHARS} characters")
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        return _parse(loader, text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise PolicyError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise PolicyError(line, f"not valid YAML: character {exc.character!r} is not allowed") from None
    except yaml.YAMLError as exc:
        raise PolicyError(1, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise PolicyError(1, "the policy nests too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _parse(loader: yaml.SafeLoader, text: str) -> EscalationPolicy:
    root = loader.get_single_node()
    if root is None:
        raise PolicyError(1, "the policy is empty")
    reader = _Reader(loader)
    top = reader.mapping(root, "the policy", _TOP_KEYS)
    settings: dict[str, Any] = {}
    if "version" in top:
        node, line = top["version"]
        version = reader.scalar(node, "version")
        if isinstance(version, bool) or version != 1:
            raise PolicyError(line, "version must be 1 (the only policy format so far)")
    if "default_team" in top:
        node, line = top["default_team"]
        value = reader.scalar(node, "default_team")
        if value is not None and (not isinstance(value, str) or not _SLUG.match(value)):
            raise PolicyError(line, f"default_team must be a team slug (like 'service'), not {value!r}")
        settings["default_team"] = value
    if "clarify_below" in top:
        node, line = top["clarify_below"]
        settings["clarify_below"] = _number(reader.scalar(node, "clarify_below"), line, "clarify_below", 0, 1)
    if "otherwise" in top:
        node, line = top["otherwise"]
        value = reader.scalar(node, "otherwise")
        if value not in ("answer", "clarify"):
            raise PolicyError(line, f"otherwise must be answer or clarify, not {value!r}")
        settings["otherwise"] = value
    if "rules" not in top:
        raise PolicyError(reader.line(root), "the policy needs 'rules' (a list, first match wins)")
    rules_node, rules_line = top["rules"]
    if not isinstance(rules_node, yaml.SequenceNode):
        raise PolicyError(rules_line, "rules must be a list")
    names: set[str] = set()
    rules = tuple(_rule(reader, node, names) for node in rules_node.value)
    return EscalationPolicy(rules=rules, source=text, **settings)


_default: EscalationPolicy | None = None


def default_policy() -> EscalationPolicy:
    """The shipped policy (defaults.yaml), parsed once per process."""
    global _default
    if _default is None:
        _default = parse_policy(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return _default
