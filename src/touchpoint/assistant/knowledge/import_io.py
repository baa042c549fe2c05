"""Reading a knowledge-base file (YAML or CSV) into validated entries, or a 422 naming the line and the reason.

Everything is checked before anything is written: a file with one bad entry imports nothing.

YAML: a list of entries, or a mapping with an `entries` list. CSV: a header row, then one entry per row.
Fields: kind (faq | article), question (or title), answer, body, keywords, url, language, published.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml
from pydantic import ValidationError

from touchpoint.assistant.knowledge.schemas import EntryIn
from touchpoint.assistant.knowledge.service import import_key
from touchpoint.kit.errors import AppError

MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_IMPORT_ENTRIES = 5000
MAX_YAML_DEPTH = 10
FIELDS = ("kind", "question", "answer", "body", "keywords", "url", "language", "published")
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
CSV_TYPES = frozenset({"text/csv", "application/csv"})
_TRUE = frozenset({"", "true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})


def import_error(line: int | None, reason: str, **details: Any) -> AppError:
    where = f"line {line}: " if line else ""
    return AppError(f"{where}{reason}", code="invalid_import", status_code=422,
                    details={"line": line, "reason": reason, **details})


def decode(body: bytes) -> str:
    if b"\x00" in body:
        raise import_error(None, "the file is binary, not text")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body[:exc.start].count(b"\n") + 1
        raise import_error(line, "the file is not UTF-8 text") from None


def parse_import(body: bytes, content_type: str) -> list[EntryIn]:
    """The entries of a YAML or CSV file (by content type), validated and without duplicates."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in YAML_TYPES:
        parse = _yaml_items
    elif media in CSV_TYPES:
        parse = _csv_items
    else:
        raise AppError("send the file as application/yaml or text/csv", code="unsupported_media_type",
                       status_code=415, details={"content_type": media or None})
    if len(body) > MAX_IMPORT_BYTES:
        raise AppError(f"the file is larger than {MAX_IMPORT_BYTES} bytes", code="payload_too_large",
                       status_code=413)
    items = parse(decode(body))
    if not items:
        raise import_error(None, "the file has no entries")
    if len(items) > MAX_IMPORT_ENTRIES:
        raise import_error(items[MAX_IMPORT_ENTRIES][0], f"more than {MAX_IMPORT_ENTRIES} entries in one file")
    entries: list[EntryIn] = []
    first_line: dict[tuple[str, str, str | None], int] = {}
    for line, data, field_lines in items:
        entry = _validate(line, data, field_lines)
        key = import_key(entry.kind, entry.question, entry.language)
        if key in first_line:
            raise import_error(line, f"the same {entry.kind} as on line {first_line[key]} (same question and "
                                     "language)")
        first_line[key] = line
        entries.append(entry)
    return entries


def _validate(line: int, data: dict[str, Any], field_lines: dict[str, int]) -> EntryIn:
    if "title" in data:  # articles have titles; the column is `question` for both kinds
        if "question" in data:
            raise import_error(field_lines.get("title", line), "give `question` or `title`, not both")
        data["question"] = data.pop("title")
        field_lines["question"] = field_lines.get("title", line)
    try:
        return EntryIn.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        reason = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if field == "question" and "question" not in data:
            reason = "question (or title) is required"
        where = field_lines.get(field, line) if field else line
        raise import_error(where, f"{field}: {reason}" if field else reason, field=field) from None


# ---- YAML -----------------------------------------------------------------------------------------------

Item = tuple[int, dict[str, Any], dict[str, int]]  # the entry's line, its fields, the line of each field


def _line(node_or_event: Any) -> int | None:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _yaml_items(text: str) -> list[Item]:
    try:
        _check_events(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise import_error(mark.line + 1 if mark else None, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise import_error(None, f"not valid YAML: {exc}") from None
    if root is None:
        return []
    sequence = root
    if isinstance(root, yaml.MappingNode):
        found = [value for key, value in root.value if isinstance(key, yaml.ScalarNode) and key.value == "entries"]
        if not found or len(root.value) != 1:
            raise import_error(_line(root), "expected a list of entries, or `entries:` with a list")
        sequence = found[0]
    if not isinstance(sequence, yaml.SequenceNode):
        raise import_error(_line(sequence), "expected a list of entries")
    constructor = yaml.SafeLoader("")
    items: list[Item] = []
    for node in sequence.value:
        line = _line(node) or 1
        if not isinstance(node, yaml.MappingNode):
            raise import_error(line, "each entry must be a mapping of fields (question: ..., answer: ...)")
        data: dict[str, Any] = {}
        field_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in (*FIELDS, "title"):
                raise import_error(_line(key_node), f"unknown field {key!r}; fields are {', '.join(FIELDS)} "
                                                    "(or title)")
            if key in data:
                raise import_error(_line(key_node), f"{key} is given twice")
            try:
                data[key] = constructor.construct_object(value_node, deep=True)
            except yaml.YAMLError as exc:
                raise import_error(_line(value_node), f"{key}: {exc}") from None
            field_lines[key] = _line(value_node) or line
        if isinstance(data.get("keywords"), list):
            data["keywords"] = [str(k) if isinstance(k, int | float) else k for k in data["keywords"]]
        items.append((line, data, field_lines))
    return items


def _check_events(text: str) -> None:
    """Refuses what the composer would choke on or expand: aliases (billion laughs) and deep nesting."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise import_error(_line(event), "YAML anchors and aliases (& and *) are not supported")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise import_error(_line(event), "the YAML nests too deeply")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


# ---- CSV ------------------------------------------------------------------------------------------------

def _csv_items(text: str) -> list[Item]:
    reader = csv.reader(io.StringIO(text, newline=""))
    items: list[Item] = []
    try:
        header = next(reader, None)
        if header is None:
            return []
        names = [h.strip().casefold() for h in header]
        unknown = [n for n in names if n not in (*FIELDS, "title")]
        if unknown:
            raise import_error(1, f"unknown column {unknown[0]!r}; columns are {', '.join(FIELDS)} (or title)")
        if len(set(names)) != len(names):
            raise import_error(1, "a column appears twice")
        if "question" not in names and "title" not in names:
            raise import_error(1, "the header needs a question (or title) column")
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num  # a quoted field may span lines: report where the row starts
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise import_error(line, f"{len(row)} cells where the header has {len(names)} columns")
            data: dict[str, Any] = {}
            for name, cell in zip(names, row, strict=True):
                if name == "published":
                    data[name] = _flag(line, cell)
                elif cell.strip() or name in ("question", "title"):
                    data[name] = cell
            items.append((line, data, {}))
    except csv.Error as exc:
        raise import_error(reader.line_num or None, f"not valid CSV: {exc}") from None
    return items


def _flag(line: int, cell: str) -> bool:
    value = cell.strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise import_error(line, f"published: {cell!r} is not true or false")
