"""The intents file: YAML in, YAML out, every error with the line it is on.

    intents:
      - name: opening_hours            # lower-case letters, digits, underscores
        description: When we are open  # optional
        examples:                      # at least 2 different phrasings, each at most 500 characters
          - when are you open
          - are you open on sunday?
        response: We are open 9-18, Monday to Saturday.   # optional fixed answer
        flow: null                                        # optional flow to start

The file is composed into YAML nodes (never constructed into Python objects: no tags run, no alias expands) and
checked node by node, so a problem is reported as "line 7: ..." with the reason. Plain scalars are taken as
written: `- yes` is the text "yes", not a boolean, because YAML 1.1 would otherwise turn an `affirm` example into
True. Anchors may be used, aliases may not (a file that repeats nodes is either a mistake or an attack).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from touchpoint.assistant.intents.schemas import (
    MAX_DESCRIPTION_CHARS,
    MAX_RESPONSE_CHARS,
    IntentSpec,
    dedupe_examples,
    example_key,
    example_problem,
    examples_count_problem,
    flow_problem,
    intent_set_problems,
    name_problem,
    storable_problem,
)
from touchpoint.kit.errors import AppError

MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_REPORTED = 20
INTENT_KEYS = ("name", "description", "examples", "response", "flow")
TOP_KEYS = ("intents", "version")
_STR, _NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:null"
# Scalar types YAML resolves plain text to; their text is taken as written. Anything else (!!binary, local tags)
# is refused rather than guessed at.
_PLAIN_TAGS = frozenset({_STR, _NULL, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                         "tag:yaml.org,2002:timestamp"})
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})
# Characters YAML does not allow in a stream: found here first so the error names the line and the character.
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 20x faster, and caps nesting depth


class IntentFileError(AppError):
    """An intents file that cannot be imported; nothing was changed."""

    status_code = 422
    code = "intent_file_invalid"


@dataclass
class _Problems:
    items: list[tuple[int, str]] = field(default_factory=list)

    def add(self, node_or_line: yaml.Node | int, reason: str) -> None:
        line = node_or_line if isinstance(node_or_line, int) else node_or_line.start_mark.line + 1
        self.items.append((line, reason))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        line, reason = self.items[0]
        others = len(self.items) - 1
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        raise IntentFileError(f"line {line}: {reason}{more}", details={
            "line": line, "reason": reason,
            "errors": [{"line": n, "reason": r} for n, r in self.items[:MAX_REPORTED]]})


def _fail(line: int, reason: str) -> IntentFileError:
    return IntentFileError(f"line {line}: {reason}", details={"line": line, "reason": reason,
                                                               "errors": [{"line": line, "reason": reason}]})


def _decode(source: str | bytes) -> str:
    if isinstance(source, bytes):
        if len(source) > MAX_YAML_BYTES:
            raise _fail(1, f"the file is larger than {MAX_YAML_BYTES} bytes")
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = source[:exc.start].count(b"\n") + 1
            raise _fail(line, f"the file is not UTF-8 text (byte 0x{source[exc.start]:02x})") from None
    else:
        text = source
        if len(text) > MAX_YAML_BYTES:
            raise _fail(1, f"the file is larger than {MAX_YAML_BYTES} bytes")
    text = text.removeprefix("\ufeff")
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise _fail(line, f"the file contains the control character U+{ord(bad.group()):04X}; is it a text file?")
    return text


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)  # type: ignore[no-any-return]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        raise _fail(mark.line + 1 if mark else 1, f"not valid YAML: {reason}") from None
    except RecursionError:
        raise _fail(1, "the YAML nests too deeply") from None
    except yaml.YAMLError as exc:
        raise _fail(1, f"not valid YAML: {exc}") from None


class _Reader:
    """Walks the node tree, reading values and recording problems with their lines."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self._seen: set[int] = set()

    def visit(self, node: yaml.Node) -> bool:
        if id(node) in self._seen:
            self.problems.add(node, "this value is used again through an alias (*name); aliases are not supported, "
                                    "write the value out")
            return False
        self._seen.add(id(node))
        if isinstance(node, yaml.CollectionNode) and node.tag not in _COLLECTION_TAGS:
            self.problems.add(node, f"the tag {node.tag} is not supported; remove it")
            return False
        return True

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """key -> (key node, value node); unknown and repeated keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problems.add(node, f"{what} must be a mapping with the keys {', '.join(allowed)}")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not self.visit(value_node):
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in allowed:
                shown = key[:60] if isinstance(key, str) else "a non-text key"
                self.problems.add(key_node, f"unknown key {shown!r} in {what}; expected {', '.join(allowed)}")
            elif key in out:
                first = out[key][0].start_mark.line + 1
                self.problems.add(key_node, f"key {key!r} appears twice in {what} (first on line {first})")
            else:
                out[key] = (key_node, value_node)
        return out

    def text(self, node: yaml.Node, what: str, *, optional: bool = False) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            self.problems.add(node, f"{what} must be text, not a {kind}")
            return None
        if node.tag not in _PLAIN_TAGS:
            self.problems.add(node, f"{what}: the tag {node.tag} is not supported; write plain text")
            return None
        if node.tag == _NULL:  # only a plain scalar resolves to null: `~`, `null` or nothing
            if not optional:
                self.problems.add(node, f"{what} is empty")
            return None
        problem = storable_problem(node.value)
        if problem:
            self.problems.add(node, f"{what} {problem}")
            return None
        return str(node.value)


def _read_intent(reader: _Reader, node: yaml.Node, position: int) -> IntentSpec | None:
    problems = reader.problems
    fields = reader.mapping(node, f"intent {position}", INTENT_KEYS)
    if not isinstance(node, yaml.MappingNode):
        return None
    if "name" not in fields:
        problems.add(node, f"intent {position} has no name")
        return None
    name = reader.text(fields["name"][1], f"the name of intent {position}")
    if name is None:
        return None
    label = f"intent {name[:100]!r}"
    bad_name = name_problem(name)
    if bad_name:
        problems.add(fields["name"][1], bad_name)
    description = response = flow = None
    if "description" in fields:
        description = reader.text(fields["description"][1], f"the description of {label}", optional=True)
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            problems.add(fields["description"][1],
                         f"the description of {label} is longer than {MAX_DESCRIPTION_CHARS} characters")
    if "response" in fields:
        response = reader.text(fields["response"][1], f"the response of {label}", optional=True)
        if response is not None and len(response) > MAX_RESPONSE_CHARS:
            problems.add(fields["response"][1],
                         f"the response of {label} is longer than {MAX_RESPONSE_CHARS} characters")
    if "flow" in fields:
        flow = reader.text(fields["flow"][1], f"the flow of {label}", optional=True)
        bad_flow = flow_problem(flow) if flow is not None else None
        if bad_flow:
            problems.add(fields["flow"][1], bad_flow)
    if "examples" not in fields:
        problems.add(node, f"{label} has no examples (it needs at least 2)")
        return None
    examples_node = fields["examples"][1]
    if not isinstance(examples_node, yaml.SequenceNode):
        problems.add(examples_node, f"the examples of {label} must be a list (lines starting with '- ')")
        return None
    examples: list[str] = []
    for index, item in enumerate(examples_node.value, 1):
        if not reader.visit(item):
            continue
        example = reader.text(item, f"example {index} of {label}")
        if example is None:
            continue
        problem = example_problem(example)
        if problem:
            problems.add(item, f"example {index} of {label} {problem}")
        else:
            examples.append(example)
    unique = dedupe_examples(examples)
    count_problem = examples_count_problem(name, unique)
    if count_problem and len(examples) == len(examples_node.value):  # not when it is short because of other errors
        problems.add(examples_node, count_problem)
    return IntentSpec(name=name, examples=unique, description=(description or "").strip(),
                      response=(response.strip() or None) if response else None, flow=flow)


def parse_intents_yaml(source: str | bytes) -> list[IntentSpec]:
    """The intents of a file, or IntentFileError naming the first bad line (and up to 20 problems in details)."""
    text = _decode(source)
    root = _compose(text)
    problems = _Problems()
    if root is None:
        raise _fail(1, "the file is empty; expected 'intents:' followed by a list of intents")
    reader = _Reader(problems)
    reader.visit(root)
    top = reader.mapping(root, "the file", TOP_KEYS)
    problems.raise_if_any()
    if "version" in top:
        version = reader.text(top["version"][1], "version")
        if version is not None and version != "1":
            problems.add(top["version"][1], f"version {version!r} is not supported; this server reads version 1")
    if "intents" not in top:
        problems.add(root, "the file has no 'intents:' list")
        problems.raise_if_any()
    intents_node = top["intents"][1]
    if isinstance(intents_node, yaml.ScalarNode) and intents_node.tag == _NULL:
        items: list[yaml.Node] = []  # `intents:` with nothing after it: no intents
    elif not isinstance(intents_node, yaml.SequenceNode):
        problems.add(intents_node, "'intents' must be a list of intents (lines starting with '- ')")
        problems.raise_if_any()
        items = []
    else:
        items = intents_node.value
    specs: list[tuple[yaml.Node, IntentSpec]] = []
    for position, item in enumerate(items, 1):
        if len(problems.items) >= MAX_REPORTED:
            break
        if reader.visit(item):
            spec = _read_intent(reader, item, position)
            if spec is not None:
                specs.append((item, spec))
    _check_across(problems, specs, intents_node)
    problems.raise_if_any()
    return [spec for _, spec in specs]


def _check_across(problems: _Problems, specs: list[tuple[yaml.Node, IntentSpec]], intents_node: yaml.Node) -> None:
    """Repeated names and examples shared by two intents, reported at the second occurrence; then the caps."""
    first_line: dict[str, int] = {}
    owner: dict[str, str] = {}
    for node, spec in specs:
        line = node.start_mark.line + 1
        if spec.name in first_line:
            problems.add(line, f"intent {spec.name!r} is defined twice (first on line {first_line[spec.name]})")
            continue
        first_line[spec.name] = line
        for example in spec.examples:
            other = owner.setdefault(example_key(example), spec.name)
            if other != spec.name:
                problems.add(line, f"example {example[:80]!r} of intent {spec.name!r} is also an example of "
                                   f"{other!r}; an example can teach only one intent")
    if not problems.items:
        for problem in intent_set_problems(spec for _, spec in specs):
            problems.add(intents_node, problem)


def dump_intents_yaml(specs: list[IntentSpec], *, header: str | None = None) -> str:
    """The file `parse_intents_yaml` reads back to the same intents."""
    items: list[dict[str, Any]] = []
    for spec in specs:
        item: dict[str, Any] = {"name": spec.name}
        if spec.description:
            item["description"] = spec.description
        item["examples"] = list(spec.examples)
        if spec.response:
            item["response"] = spec.response
        if spec.flow:
            item["flow"] = spec.flow
        items.append(item)
    body = yaml.safe_dump({"intents": items}, sort_keys=False, allow_unicode=True, width=120,
                          default_flow_style=False)
    return (f"# {header}\n" if header else "") + body


@lru_cache(maxsize=1)
def builtin_intents() -> tuple[IntentSpec, ...]:
    """The intents every workspace's model is trained with (unless the workspace defines one of the same name)."""
    source = resources.files("touchpoint.assistant").joinpath("data/builtin_intents.yaml").read_text("utf-8")
    return tuple(parse_intents_yaml(source))
