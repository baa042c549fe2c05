"""Calls to the brand's HTTP actions: the request built from slots (safe templating), one attempt made,
the response read (capped) and judged against what the flow expects.

The request is built inside the customer's transaction and stored on the ActionCall row; the call itself
is made by the ActionWorker outside any transaction (conversations/action_worker.py).
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from touchpoint.assistant.flows import templates
from touchpoint.assistant.flows.context import Scope, walk
from touchpoint.assistant.flows.definition import ActionSpec
from touchpoint.kit.urls import UnsafeUrlError, check_outbound_url

MAX_RESPONSE_BYTES = 256 * 1024
KEPT_BODY_CHARS = 2000  # of a response, on the ActionCall row, for whoever debugs the brand's endpoint


class ActionBuildError(ValueError):
    """The request cannot be built (a missing value, no base URL): the flow's error path, no HTTP call."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    status: int | None = None  # HTTP status; None when no answer came (timeout, refused, unreachable)
    data: dict[str, Any] | None = None  # on success: only the fields the flow expects
    error: str | None = None  # for people: "timed out after 5 s", "HTTP 500", "the response is not JSON"
    retryable: bool = False
    body: str | None = None  # the start of the response body, for debugging

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionResult:
        return cls(ok=bool(data.get("ok")), status=data.get("status"), data=data.get("data"), error=data.get("error"),
                   retryable=bool(data.get("retryable")), body=data.get("body"))


def build_request(spec: ActionSpec, scope: Scope, *, base_url: str | None, allow_private: bool, kind: str,
                  step: str) -> dict[str, Any]:
    """The stored request of an ActionCall. Slot values are percent-encoded into the URL, refused in headers
    when they carry line breaks, and keep their JSON type in the body."""
    try:
        url = templates.render_url(spec.url, scope.text)
        headers = {name: templates.render_header(value, scope.text) for name, value in spec.headers.items()}
        body = templates.render_json(spec.body, scope.raw, scope.text) if spec.body is not None else None
    except KeyError as exc:
        raise ActionBuildError(f"no value for {{{exc.args[0]}}}") from None
    except templates.TemplateError as exc:
        raise ActionBuildError(str(exc)) from None
    if url.startswith("/"):
        if not base_url:
            raise ActionBuildError("the action URL is a path but the workspace has no flows base_url")
        url = base_url.rstrip("/") + url
    return {"kind": kind, "step": step, "method": spec.method, "url": url, "headers": headers, "json": body,
            "timeout": spec.timeout, "max_attempts": spec.retries + 1, "expect": list(spec.expect),
            "allow_private": bool(allow_private or spec.allow_private_urls), "url_field": spec.url_field}


def _retryable_status(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


def interpret(status: int, body: bytes, expect: list[str]) -> ActionResult:
    """Judge a response: 2xx with a JSON object holding every expected field is a success."""
    text = body[:KEPT_BODY_CHARS].decode("utf-8", "replace")
    if not 200 <= status < 300:
        reason = "redirects are not followed" if 300 <= status < 400 else f"HTTP {status}"
        return ActionResult(False, status, error=reason, retryable=_retryable_status(status), body=text)
    try:
        parsed = json.loads(body.decode("utf-8"), parse_constant=_no_constants) if body.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ActionResult(False, status, error="the response is not JSON", body=text)
    if not isinstance(parsed, dict):
        return ActionResult(False, status, error="the response is not a JSON object", body=text)
    kept: dict[str, Any] = {}
    for path in expect:
        parts = path.split(".")
        try:
            value = walk(parsed, parts)
        except KeyError:
            return ActionResult(False, status, error=f"the response has no '{path}'", body=text)
        if value is None:
            return ActionResult(False, status, error=f"the response's '{path}' is empty", body=text)
        target = kept
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return ActionResult(True, status, data=kept, body=text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def perform(http: httpx.AsyncClient, request: dict[str, Any], *, allow_private: bool,
                  idempotency_key: str | None = None) -> ActionResult:
    """One attempt. Never raises for the brand's failures: they are results the flow branches on."""
    url = str(request.get("url", ""))
    try:
        await check_outbound_url(url, allow_private=allow_private or bool(request.get("allow_private")))
    except UnsafeUrlError as exc:
        return ActionResult(False, None, error=f"refused: {exc}")
    timeout = float(request.get("timeout") or 5.0)
    if not math.isfinite(timeout) or timeout <= 0:
        timeout = 5.0
    headers = {"accept": "application/json", **dict(request.get("headers") or {})}
    if idempotency_key:
        headers.setdefault("idempotency-key", idempotency_key)
    try:
        async with asyncio.timeout(timeout):
            async with http.stream(str(request.get("method", "GET")), url, headers=headers,
                                   json=request.get("json"), timeout=httpx.Timeout(timeout),
                                   follow_redirects=False) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_RESPONSE_BYTES:
                        return ActionResult(False, response.status_code,
                                            error=f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
                status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return ActionResult(False, None, error=f"timed out after {timeout:g} s", retryable=True)
    except httpx.HTTPError as exc:
        return ActionResult(False, None, error=f"could not reach the brand's server ({type(exc).__name__})",
                            retryable=True)
    return interpret(status, bytes(body), [str(p) for p in request.get("expect") or []])
