"""What every /api/v1 route shares: the capped, strictly parsed request body, the runtime, and the
API-key caller (`ApiWorkspace`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from touchpoint.api import repository
from touchpoint.contacts.schemas import MAX_ID
from touchpoint.kit.body import read_capped
from touchpoint.kit.clock import utcnow
from touchpoint.kit.secrets import sha256_hex
from touchpoint.runtime import Runtime
from touchpoint.workspaces.audit import Actor
from touchpoint.workspaces.repository import api_key_by_hash

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_NESTING = 32
API_KEY_SHAPE = re.compile(r"^tp_[A-Za-z0-9_-]{16,100}$")


class _CheckedRequest(Request):
    """A request whose body is read with a size cap and whose JSON is strict.

    Python's json module accepts NaN and Infinity and turns "\\ud800" into a lone surrogate; either would
    reach the database (or the JSON encoder of an error response) and fail there as a 500. Here they are
    refused as JSON errors, which FastAPI answers with 422 validation_error like any malformed JSON.
    """

    _capped: bytes | None = None
    _strict_json: Any = None
    _parsed = False

    async def body(self) -> bytes:
        if self._capped is None:
            self._capped = await read_capped(self, MAX_BODY_BYTES)
        return self._capped

    async def json(self) -> Any:
        if not self._parsed:
            self._strict_json = _strict_loads(await self.body())
            self._parsed = True
        return self._strict_json


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _strict_loads(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("body is not UTF-8", "", exc.start) from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise json.JSONDecodeError(str(exc) or "JSON nests too deeply", text, 0) from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_NESTING:
            raise json.JSONDecodeError(f"JSON nests deeper than {MAX_JSON_NESTING} levels", text, 0)
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise json.JSONDecodeError("string with a lone surrogate escape", text, 0) from None
    return data


class ApiRoute(APIRoute):
    """Reads the body through the cap before FastAPI parses it; an oversized body is 413 payload_too_large."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped_handler(request: Request) -> Response:
            checked = _CheckedRequest(request.scope, request.receive)
            await checked.body()
            return await handler(checked)

        return capped_handler


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

bearer = HTTPBearer(
    auto_error=False, scheme_name="ApiKey", bearerFormat="tp_...",
    description="A workspace API key, sent as `Authorization: Bearer tp_...`. Create one with "
                "`touchpoint apikey --name NAME --workspace SLUG`; it is shown once, only its hash is stored.")


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who is calling: the workspace every query is filtered by, and the actor the audit log records."""

    workspace_id: int
    actor: Actor  # Actor("api_key", key id, key name)


def _unauthorized(message: str) -> HTTPException:
    # The app's HTTPException handler renders {"error": {"code": "unauthorized", ...}}; RFC 6750 wants
    # the WWW-Authenticate header on every 401.
    return HTTPException(401, detail=message, headers={"WWW-Authenticate": 'Bearer realm="touchpoint"'})


async def api_caller(runtime: RuntimeDep,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> ApiCaller:
    if credentials is None:
        raise _unauthorized("send an API key as 'Authorization: Bearer tp_...'")
    token = credentials.credentials
    if not API_KEY_SHAPE.match(token):
        raise _unauthorized("that is not a Touchpoint API key")
    # Its own short transaction: authentication must not share a unit of work with the request's changes.
    async with runtime.transaction() as session:
        key = await api_key_by_hash(session, sha256_hex(token))  # revoked keys are not found
        if key is None:
            raise _unauthorized("unknown or revoked API key")
        await repository.touch_api_key(session, key, utcnow())
    return ApiCaller(key.workspace_id, Actor("api_key", key.id, key.name))


ApiWorkspace = Annotated[ApiCaller, Depends(api_caller)]

# Path ids are bounded so that a huge number is a 422, not a BIGINT overflow in the database.
ContactId = Annotated[int, Path(ge=1, le=MAX_ID, description="Contact id.", examples=[42])]
ConversationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Conversation id.", examples=[7])]
