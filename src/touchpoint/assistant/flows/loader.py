"""Flow files read with the line of every key and item kept, so validation can say where a problem is.

JSON is read by the same YAML reader (JSON is YAML). Aliases are refused (a tiny file must not expand into a
huge structure), yes/no/on/off stay words, dates stay text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from touchpoint.assistant.flows.spec import FlowDefinitionError

MAX_SOURCE_CHARS = 64_000


class LineMap(dict[str, Any]):
    line = 0
    lines: dict[str, int]


class _List(list[Any]):
    line = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        # Aliases let a small file expand into a huge structure; flows never need them.
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in flow files",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise _LineError(line, "keys must be text")
        key = str(key)
        if key in result:
            raise _LineError(line, f"{key!r} appears twice")
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = value_node.start_mark.line + 1
    return result


def _construct_list(loader: _Loader, node: yaml.SequenceNode) -> _List:
    result = _List(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_bool(loader: _Loader, node: yaml.ScalarNode) -> bool | str:
    # YAML 1.1 reads yes/no/on/off as booleans: a choice called "no" must stay the word "no".
    value = loader.construct_scalar(node)
    return value.lower() == "true" if value.lower() in ("true", "false") else str(value)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_list)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
# Dates stay text (2026-05-12): definitions are stored as JSON.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: str(node.value))


class _LineError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def load_source(source: str) -> Any:
    """YAML (or JSON, which YAML reads too) with line numbers kept; raises FlowDefinitionError."""
    if len(source) > MAX_SOURCE_CHARS:
        raise flow_error([(0, f"the file is larger than {MAX_SOURCE_CHARS} characters")])
    if "\x00" in source:
        raise flow_error([(0, "the file is not text")])
    try:
        data = yaml.load(source, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _LineError as exc:
        raise flow_error([(exc.line, exc.reason)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise flow_error([((mark.line + 1) if mark else 0, reason)]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise flow_error([(0, f"not valid YAML: {exc}")]) from None
    return data


def flow_error(problems: list[tuple[int, str]]) -> FlowDefinitionError:
    problems = sorted(problems, key=lambda p: p[0])
    first_line, first_reason = problems[0]
    where = f"line {first_line}: " if first_line else ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return FlowDefinitionError(f"{where}{first_reason}{more}",
                               details={"errors": [{"line": line, "reason": reason} for line, reason in problems]})


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def dumps(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, ensure_ascii=False, indent=2)


def line_of(container: Any, key: Any = None) -> int:
    if key is not None:
        lines = getattr(container, "lines", None)
        if isinstance(lines, dict) and key in lines:
            return int(lines[key])
        if isinstance(lines, list) and isinstance(key, int) and key < len(lines):
            return int(lines[key])
    return int(getattr(container, "line", 0))


