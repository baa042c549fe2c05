"""Validation helpers of flow files: a collector of problems with their lines, and the slots' settings."""

from __future__ import annotations

import re
from typing import Any

from touchpoint.assistant.flows import templates
from touchpoint.assistant.flows.loader import line_of as _line
from touchpoint.assistant.flows.slots import SLOT_TYPES, Choice, SlotSpec
from touchpoint.assistant.flows.spec import BUILTINS

MAX_SLOTS = 50
MAX_TEXT = 2000
IDENT = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
TEAM = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class Checker:
    """Collects every problem with its line, so one import reports them all."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.references: list[tuple[int, str, str]] = []  # (line, where, placeholder name)

    def fail(self, line: int, reason: str) -> None:
        self.problems.append((line, reason))

    def text(self, container: Any, key: str, where: str, *, required: bool = False, template: bool = True,
             default: str | None = None) -> str | None:
        value = container.get(key) if isinstance(container, dict) else None
        if value is None:
            if required:
                self.fail(_line(container), f"{where}: '{key}' is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(_line(container, key), f"{where}: '{key}' must be text")
            return default
        value = str(value)
        if len(value) > MAX_TEXT:
            self.fail(_line(container, key), f"{where}: '{key}' is longer than {MAX_TEXT} characters")
        if template:
            self.template(value, _line(container, key), f"{where}: '{key}'")
        return value

    def template(self, value: str, line: int, where: str) -> None:
        try:
            for name in templates.placeholders(value):
                self.references.append((line, where, name))
        except templates.TemplateError as exc:
            self.fail(line, f"{where}: {exc}")

    def number(self, container: Any, key: str, where: str, *, low: float, high: float, default: float | None,
               integer: bool = False) -> float | None:
        value = container.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            self.fail(_line(container, key), f"{where}: '{key}' must be {'a whole number' if integer else 'a number'}")
            return default
        if not low <= value <= high:
            self.fail(_line(container, key), f"{where}: '{key}' must be between {low:g} and {high:g}")
            return default
        return value

    def flag(self, container: Any, key: str, where: str, default: bool = False) -> bool:
        value = container.get(key, default)
        if not isinstance(value, bool):
            self.fail(_line(container, key), f"{where}: '{key}' must be true or false")
            return default
        return value

    def keys(self, container: Any, allowed: set[str], where: str) -> None:
        for key in container:
            if key not in allowed:
                self.fail(_line(container, key),
                          f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")


def names(check: Checker, container: Any, key: str, where: str) -> tuple[str, ...]:
    value = container.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.fail(_line(container, key), f"{where}: '{key}' must be a list of names")
        return ()
    return tuple(value)


SLOT_KEYS = {
    "common": {"type", "prompt", "reprompt", "max_attempts"},
    "number": {"min", "max", "integer"},
    "date": {"future_only", "max_days_ahead", "day_first"},
    "time": {"earliest", "latest"},
    "text": {"regex", "min_length", "max_length", "transform"},
    "choice": {"choices"},
    "phone": {"default_country"},
    "email": set(),
}


def check_slots(check: Checker, data: Any) -> dict[str, SlotSpec]:
    raw = data.get("slots") or {}
    if not isinstance(raw, dict):
        check.fail(_line(data, "slots"), "flow: 'slots' must be a mapping of slot name to its settings")
        return {}
    if len(raw) > MAX_SLOTS:
        check.fail(_line(data, "slots"), f"flow: at most {MAX_SLOTS} slots")
    slots: dict[str, SlotSpec] = {}
    for name, spec in raw.items():
        where = f"slot '{name}'"
        line = _line(raw, name)
        if not IDENT.match(name) or name in BUILTINS:
            check.fail(line, f"{where}: names are lowercase letters, digits and _ (not payment or error)")
            continue
        if not isinstance(spec, dict):
            check.fail(line, f"{where}: settings must be a mapping with at least type and prompt")
            continue
        kind = spec.get("type")
        if kind not in SLOT_TYPES:
            check.fail(_line(spec, "type") if "type" in spec else line,
                       f"{where}: 'type' must be one of {', '.join(SLOT_TYPES)}")
            continue
        check.keys(spec, SLOT_KEYS["common"] | SLOT_KEYS[kind], where)
        slot = _slot(check, name, kind, spec, where)
        if slot is not None:
            slots[name] = slot
    return slots


def _slot(check: Checker, name: str, kind: str, spec: Any, where: str) -> SlotSpec | None:
    values: dict[str, Any] = {
        "name": name, "type": kind, "line": _line(spec),
        "prompt": check.text(spec, "prompt", where, required=True) or "",
        "reprompt": check.text(spec, "reprompt", where),
        "max_attempts": int(check.number(spec, "max_attempts", where, low=1, high=10, default=3, integer=True) or 3),
    }
    if kind == "number":
        values["minimum"] = check.number(spec, "min", where, low=-1e12, high=1e12, default=None)
        values["maximum"] = check.number(spec, "max", where, low=-1e12, high=1e12, default=None)
        values["integer"] = check.flag(spec, "integer", where)
        if values["minimum"] is not None and values["maximum"] is not None and values["minimum"] > values["maximum"]:
            check.fail(_line(spec, "min"), f"{where}: 'min' is larger than 'max'")
    elif kind == "date":
        values["future_only"] = check.flag(spec, "future_only", where)
        values["day_first"] = check.flag(spec, "day_first", where, default=True)
        days = check.number(spec, "max_days_ahead", where, low=0, high=3660, default=None, integer=True)
        values["max_days_ahead"] = int(days) if days is not None else None
    elif kind == "time":
        for key in ("earliest", "latest"):
            value = check.text(spec, key, where, template=False)
            if value is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
                check.fail(_line(spec, key), f"{where}: '{key}' must be HH:MM (24-hour)")
                value = None
            values[key] = value
    elif kind == "text":
        regex = check.text(spec, "regex", where, template=False)
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                check.fail(_line(spec, "regex"), f"{where}: 'regex' does not compile: {exc}")
                regex = None
        values["regex"] = regex
        values["min_length"] = int(check.number(spec, "min_length", where, low=0, high=5000, default=1,
                                                integer=True) or 0)
        values["max_length"] = int(check.number(spec, "max_length", where, low=1, high=5000, default=500,
                                                integer=True) or 500)
        transform = spec.get("transform")
        if transform not in (None, "upper", "lower"):
            check.fail(_line(spec, "transform"), f"{where}: 'transform' must be upper or lower")
            transform = None
        values["transform"] = transform
    elif kind == "choice":
        values["choices"] = _choices(check, spec, where)
    elif kind == "phone":
        country = spec.get("default_country")
        if country is not None:
            country = str(country).lstrip("+")
            if not re.fullmatch(r"[1-9]\d{0,2}", country):
                check.fail(_line(spec, "default_country"), f"{where}: 'default_country' must be a calling code "
                                                           "such as 44 or 351")
                country = None
        values["default_country"] = country
    return SlotSpec(**values)


def _choices(check: Checker, spec: Any, where: str) -> tuple[Choice, ...]:
    raw = spec.get("choices")
    if not isinstance(raw, list) or not raw:
        check.fail(_line(spec, "choices") if "choices" in spec else _line(spec),
                   f"{where}: 'choices' must be a non-empty list")
        return ()
    choices: list[Choice] = []
    for index, item in enumerate(raw):
        line = _line(raw, index)
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            choices.append(Choice(str(item), str(item)))
        elif isinstance(item, dict) and "value" in item:
            check.keys(item, {"value", "label", "synonyms"}, f"{where} choice {index + 1}")
            synonyms = item.get("synonyms") or []
            if not isinstance(synonyms, list):
                check.fail(line, f"{where} choice {index + 1}: 'synonyms' must be a list")
                synonyms = []
            choices.append(Choice(str(item["value"]), str(item.get("label") or item["value"]),
                                  tuple(str(s) for s in synonyms)))
        else:
            check.fail(line, f"{where}: each choice is text or a mapping with value (and label, synonyms)")
    if len({c.value for c in choices}) != len(choices):
        check.fail(_line(spec, "choices"), f"{where}: two choices have the same value")
    return tuple(choices)


