"""Strict `{name}` templates for flow messages, action URLs, headers and bodies.

A placeholder names a slot (`{booking_ref}`), a field of a saved action response (`{lookup.balance}`)
or a built-in (`{payment.url}`, `{error.reason}`); `{{` and `}}` are literal braces. Nothing is
evaluated: no attribute access on objects, no expressions, no filters. Names are checked at import
(definition.py), so a typo is a 422 with its line, not a broken message in front of a customer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
MAX_RENDERED = 4000


class TemplateError(ValueError):
    pass


def _pieces(template: str) -> Iterator[tuple[str, bool]]:
    """(literal text, False) and (placeholder name, True) in order."""
    position = 0
    for match in _TOKEN.finditer(template):
        if match.start() > position:
            yield template[position:match.start()], False
        piece = match.group(0)
        if piece == "{{":
            yield "{", False
        elif piece == "}}":
            yield "}", False
        elif match.group(1) is None:
            raise TemplateError(f"unbalanced {piece!r} at character {match.start() + 1} (write {piece * 2} "
                                f"for a literal brace)")
        else:
            name = match.group(1).strip()
            if not NAME.match(name):
                raise TemplateError(f"{{{match.group(1)}}} is not a name (letters, digits, _ and dots only)")
            yield name, True
        position = match.end()
    if position < len(template):
        yield template[position:], False


def placeholders(template: str) -> list[str]:
    """Every name the template refers to; raises TemplateError when it is malformed."""
    return [text for text, is_name in _pieces(template) if is_name]


def sole_placeholder(template: str) -> str | None:
    """The name when the whole template is exactly one placeholder (a body value that keeps its JSON type)."""
    pieces = list(_pieces(template))
    if len(pieces) == 1 and pieces[0][1]:
        return pieces[0][0]
    return None


def render(template: str, lookup: Callable[[str], str]) -> str:
    """Render with `lookup(name) -> text`; a KeyError from lookup (a missing value) propagates."""
    out: list[str] = []
    for text, is_name in _pieces(template):
        out.append(lookup(text) if is_name else text)
    rendered = "".join(out)
    if len(rendered) > MAX_RENDERED:
        rendered = rendered[:MAX_RENDERED]
    return rendered


def render_url(template: str, lookup: Callable[[str], str]) -> str:
    """Every value is percent-encoded as one path or query component: a slot cannot add path
    segments, query parameters or change the host."""
    return render(template, lambda name: quote(lookup(name), safe=""))


def render_header(template: str, lookup: Callable[[str], str]) -> str:
    value = render(template, lookup)
    if any(ch in value for ch in "\r\n\x00"):
        raise TemplateError("a header value may not contain line breaks")
    return value


def render_json(value: Any, lookup_raw: Callable[[str], Any], lookup_text: Callable[[str], str]) -> Any:
    """A JSON body template: strings are templates; a string that is exactly one placeholder keeps the
    value's JSON type (a number stays a number)."""
    if isinstance(value, str):
        name = sole_placeholder(value)
        if name is not None:
            return lookup_raw(name)
        return render(value, lookup_text)
    if isinstance(value, dict):
        return {key: render_json(item, lookup_raw, lookup_text) for key, item in value.items()}
    if isinstance(value, list):
        return [render_json(item, lookup_raw, lookup_text) for item in value]
    return value
