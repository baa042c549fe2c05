"""/api/v1/canned-responses: the workspace's saved replies (create, list, read, change, delete).

Logic and checks live in touchpoint.inbox.canned, shared with the inbox's management page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from touchpoint.api.deps import ApiRoute, ApiWorkspace, RuntimeDep
from touchpoint.api.schemas import error_responses
from touchpoint.contacts.schemas import MAX_ID, StorableStr
from touchpoint.inbox import canned
from touchpoint.inbox.canned import CannedCreate, CannedList, CannedOut, CannedUpdate

router = APIRouter(prefix="/canned-responses", tags=["canned responses"], route_class=ApiRoute)
CannedId = Annotated[int, Path(ge=1, le=MAX_ID, description="Canned response id.", examples=[3])]


@router.post("", status_code=201, response_model=CannedOut, summary="Create a canned response",
             responses=error_responses(409),
             description="`shortcut` is unique in the workspace (409 `shortcut_taken`); agents type it after "
                         "`/` in the reply box. `team_id` limits it to one team's conversations.")
async def create_canned(body: CannedCreate, caller: ApiWorkspace, runtime: RuntimeDep) -> CannedOut:
    async with runtime.transaction() as session:
        row = await canned.create_canned(session, workspace_id=caller.workspace_id, shortcut=body.shortcut,
                                         title=body.title, text=body.text, team_id=body.team_id, actor=caller.actor)
    return CannedOut.model_validate(row)


@router.get("", response_model=CannedList, summary="List canned responses",
            description="In shortcut order. `team` keeps those for everyone plus that team's; `query` matches "
                        "shortcut, title or text (case-insensitive substring).")
async def list_canned(
    caller: ApiWorkspace, runtime: RuntimeDep,
    team: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Team id.")] = None,
    query: Annotated[StorableStr | None, Query(max_length=200, description="Text to search for.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> CannedList:
    async with runtime.sessionmaker() as session:
        rows = await canned.list_canned(session, caller.workspace_id, team_id=team, query=query, limit=limit)
    return CannedList(data=[CannedOut.model_validate(r) for r in rows])


@router.get("/{canned_id}", response_model=CannedOut, summary="Get a canned response",
            responses=error_responses(404))
async def get_canned(canned_id: CannedId, caller: ApiWorkspace, runtime: RuntimeDep) -> CannedOut:
    async with runtime.sessionmaker() as session:
        row = await canned.access_canned(session, caller.workspace_id, canned_id)
    return CannedOut.model_validate(row)


@router.patch("/{canned_id}", response_model=CannedOut, summary="Change a canned response",
              responses=error_responses(404, 409), description="Only the fields you send change.")
async def update_canned(canned_id: CannedId, body: CannedUpdate, caller: ApiWorkspace,
                        runtime: RuntimeDep) -> CannedOut:
    async with runtime.transaction() as session:
        row = await canned.access_canned(session, caller.workspace_id, canned_id)
        await canned.update_canned(session, row=row, changes=body.model_dump(exclude_unset=True), actor=caller.actor)
    return CannedOut.model_validate(row)


@router.delete("/{canned_id}", status_code=204, summary="Delete a canned response", responses=error_responses(404))
async def delete_canned(canned_id: CannedId, caller: ApiWorkspace, runtime: RuntimeDep) -> Response:
    async with runtime.transaction() as session:
        row = await canned.access_canned(session, caller.workspace_id, canned_id)
        await canned.delete_canned(session, row=row, actor=caller.actor)
    return Response(status_code=204)
