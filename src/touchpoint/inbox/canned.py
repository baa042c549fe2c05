"""Canned responses: a workspace's saved replies, each with a shortcut agents type after "/" in the reply
box, optionally limited to one team. Used by the inbox picker, ranked into agent-assist suggestions, and
managed from the inbox (/inbox/canned) and the API (/api/v1/canned-responses).

Checks live here (not only in the API schemas) so the API and the inbox form refuse the same input with
the same codes. Like every service: flush, never commit; every query filters on the workspace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.contacts.schemas import RowId, StorableStr
from touchpoint.kit.errors import AppError, Conflict, NotFound
from touchpoint.models import CannedResponse
from touchpoint.workspaces import repository as workspaces_repo
from touchpoint.workspaces.audit import Actor, record_audit

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_TITLE = 200
MAX_TEXT = 4000
MAX_PER_WORKSPACE = 2000


# ---- API schemas ----------------------------------------------------------------------------------------

class CannedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "shortcut": "parking", "title": "Parking prices",
        "text": "We have a garage with 40 spaces at 12 EUR per day; no booking needed.", "team_id": None}]})

    shortcut: StorableStr = Field(min_length=1, max_length=64, description="Lowercase letters, digits, - and _.")
    title: StorableStr = Field(min_length=1, max_length=MAX_TITLE)
    text: StorableStr = Field(min_length=1, max_length=MAX_TEXT)
    team_id: RowId | None = Field(default=None, description="Only this team's agents see it; null = everyone.")


class CannedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shortcut: StorableStr | None = Field(default=None, min_length=1, max_length=64)
    title: StorableStr | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    text: StorableStr | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    team_id: RowId | None = None


class CannedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shortcut: str
    title: str
    text: str
    team_id: int | None
    created_at: datetime


class CannedList(BaseModel):
    data: list[CannedOut]


# ---- checks ---------------------------------------------------------------------------------------------

def _invalid(message: str, code: str, field: str) -> AppError:
    return AppError(message, code=code, status_code=422, details={"field": field})


def check_shortcut(value: str | None) -> str:
    shortcut = (value or "").strip().lstrip("/").lower()
    if not SHORTCUT.match(shortcut):
        raise _invalid("A shortcut is 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or "
                       "digit (e.g. 'parking').", "invalid_shortcut", "shortcut")
    return shortcut


def check_title(value: str | None) -> str:
    title = " ".join((value or "").split())
    if not title or len(title) > MAX_TITLE or "\x00" in title:
        raise _invalid(f"A title is 1 to {MAX_TITLE} characters.", "invalid_title", "title")
    return title


def check_text(value: str | None) -> str:
    text = (value or "").strip()
    if not text or len(text) > MAX_TEXT or "\x00" in text:
        raise _invalid(f"The response text is 1 to {MAX_TEXT} characters.", "invalid_text", "text")
    return text


async def check_team(session: AsyncSession, workspace_id: int, team_id: int | None) -> int | None:
    if team_id is None:
        return None
    if await workspaces_repo.access_team(session, workspace_id, team_id) is None:
        raise _invalid("There is no such team in this workspace.", "team_not_found", "team_id")
    return team_id


# ---- queries and mutations ------------------------------------------------------------------------------

async def list_canned(session: AsyncSession, workspace_id: int, *, team_id: int | None = None,
                      query: str | None = None, limit: int = 500) -> Sequence[CannedResponse]:
    stmt = select(CannedResponse).where(CannedResponse.workspace_id == workspace_id)
    if team_id is not None:
        stmt = stmt.where(or_(CannedResponse.team_id.is_(None), CannedResponse.team_id == team_id))
    if query and query.strip():
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(CannedResponse.shortcut).like(like),
                              func.lower(CannedResponse.title).like(like), func.lower(CannedResponse.text).like(like)))
    return (await session.execute(stmt.order_by(CannedResponse.shortcut).limit(limit))).scalars().all()


async def access_canned(session: AsyncSession, workspace_id: int, canned_id: int) -> CannedResponse:
    row = (await session.execute(select(CannedResponse).where(
        CannedResponse.id == canned_id, CannedResponse.workspace_id == workspace_id))).scalar_one_or_none()
    if row is None:
        raise NotFound("There is no such canned response in this workspace.", code="canned_not_found")
    return row


async def _check_free(session: AsyncSession, workspace_id: int, shortcut: str, except_id: int | None = None) -> None:
    stmt = select(CannedResponse.id).where(CannedResponse.workspace_id == workspace_id,
                                           CannedResponse.shortcut == shortcut)
    if except_id is not None:
        stmt = stmt.where(CannedResponse.id != except_id)
    existing = (await session.execute(stmt)).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"The shortcut /{shortcut} is already used by another canned response.",
                       code="shortcut_taken", details={"canned_response_id": existing})


async def _flush(session: AsyncSession, shortcut: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # Two agents saving the same shortcut at once: the unique constraint lets one through.
        raise Conflict(f"The shortcut /{shortcut} is already used by another canned response.",
                       code="shortcut_taken") from None


async def create_canned(session: AsyncSession, *, workspace_id: int, shortcut: str | None, title: str | None,
                        text: str | None, team_id: int | None, actor: Actor) -> CannedResponse:
    shortcut = check_shortcut(shortcut)
    fields = {"title": check_title(title), "text": check_text(text),
              "team_id": await check_team(session, workspace_id, team_id)}
    count = (await session.execute(select(func.count()).select_from(CannedResponse).where(
        CannedResponse.workspace_id == workspace_id))).scalar_one()
    if count >= MAX_PER_WORKSPACE:
        raise Conflict(f"A workspace keeps at most {MAX_PER_WORKSPACE} canned responses; delete unused ones first.",
                       code="too_many_canned_responses")
    await _check_free(session, workspace_id, shortcut)
    row = CannedResponse(workspace_id=workspace_id, shortcut=shortcut, **fields)
    session.add(row)
    await _flush(session, shortcut)
    record_audit(session, workspace_id=workspace_id, actor=actor, action="canned_response.create",
                 subject_type="canned_response", subject_id=row.id, shortcut=shortcut)
    return row


async def update_canned(session: AsyncSession, *, row: CannedResponse, changes: dict[str, object],
                        actor: Actor) -> CannedResponse:
    """`changes` holds only the fields to change (a PATCH body with exclude_unset, or a whole form)."""
    if "shortcut" in changes:
        shortcut = check_shortcut(changes["shortcut"] if isinstance(changes["shortcut"], str) else None)
        await _check_free(session, row.workspace_id, shortcut, except_id=row.id)
        row.shortcut = shortcut
    if "title" in changes:
        row.title = check_title(changes["title"] if isinstance(changes["title"], str) else None)
    if "text" in changes:
        row.text = check_text(changes["text"] if isinstance(changes["text"], str) else None)
    if "team_id" in changes:
        team = changes["team_id"]
        row.team_id = await check_team(session, row.workspace_id, team if isinstance(team, int) else None)
    await _flush(session, row.shortcut)
    record_audit(session, workspace_id=row.workspace_id, actor=actor, action="canned_response.update",
                 subject_type="canned_response", subject_id=row.id, fields=sorted(changes))
    return row


async def delete_canned(session: AsyncSession, *, row: CannedResponse, actor: Actor) -> None:
    record_audit(session, workspace_id=row.workspace_id, actor=actor, action="canned_response.delete",
                 subject_type="canned_response", subject_id=row.id, shortcut=row.shortcut)
    await session.delete(row)
    await session.flush()
