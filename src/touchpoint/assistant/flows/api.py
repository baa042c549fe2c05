"""/api/v1/assistant/flows (import, export, versions) and /api/v1/payments (approve or reject).

Flow files are sent as the raw request body (YAML or JSON); an invalid file is 422 `invalid_flow` with
every problem's line and reason, and the running version keeps serving.

This is the domain's HTTP layer, so it uses the API's shared dependencies (touchpoint.api.deps); the
flows' logic below it (service, runner, payments) does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from touchpoint.api.deps import ApiRoute, ApiWorkspace, RuntimeDep
from touchpoint.api.schemas import error_responses
from touchpoint.assistant.flows import payments, repository, service
from touchpoint.contacts.schemas import MAX_ID, RowId
from touchpoint.kit.errors import AppError, Conflict, NotFound
from touchpoint.models import FlowDefinition, PaymentRequest
from touchpoint.workspaces.repository import access_agent

router = APIRouter(prefix="/api/v1", route_class=ApiRoute, responses=error_responses(401, 413, 422))
FlowName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,99}$", description="Flow name.",
                               examples=["change_reservation"])]
Version = Annotated[int, Path(ge=1, le=1_000_000, description="Version number.")]
PaymentId = Annotated[int, Path(ge=1, le=MAX_ID, description="Payment request id.")]
FLOW_BODY = {"requestBody": {"required": True, "description": "The flow file, YAML or JSON.", "content": {
    "application/yaml": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}},
    "text/plain": {"schema": {"type": "string"}}}}}


class FlowVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    is_active: bool
    created_at: datetime


class FlowOut(BaseModel):
    name: str
    version: int
    description: str
    trigger_intents: list[str]
    created_at: datetime


class FlowDetail(FlowOut):
    definition: dict[str, Any] = Field(description="The validated flow as stored.")
    versions: list[FlowVersionOut]


def _flow_out(row: FlowDefinition) -> FlowOut:
    flow = service.parsed(row)
    return FlowOut(name=row.name, version=row.version, description=flow.description,
                   trigger_intents=list(flow.trigger_intents), created_at=row.created_at)


@router.get("/assistant/flows", response_model=list[FlowOut], tags=["assistant"], summary="List flows",
            description="The active version of every flow of the workspace.")
async def list_flows(caller: ApiWorkspace, runtime: RuntimeDep) -> list[FlowOut]:
    async with runtime.sessionmaker() as session:
        return [_flow_out(row) for row in await service.list_flows(session, caller.workspace_id)]


@router.get("/assistant/flows/{name}", response_model=FlowDetail, tags=["assistant"], summary="Get a flow",
            responses=error_responses(404))
async def get_flow(name: FlowName, caller: ApiWorkspace, runtime: RuntimeDep) -> FlowDetail:
    async with runtime.sessionmaker() as session:
        row = await service.access_flow(session, caller.workspace_id, name)
        versions = await service.versions(session, caller.workspace_id, name)
    return FlowDetail(**_flow_out(row).model_dump(), definition=row.definition,
                      versions=[FlowVersionOut.model_validate(v) for v in versions])


@router.put("/assistant/flows/{name}", response_model=FlowOut, status_code=201, tags=["assistant"],
            summary="Import a flow (new version)", openapi_extra=FLOW_BODY,
            responses={200: {"model": FlowOut, "description": "Same source as the active version: nothing changed."},
                       **error_responses(409)},
            description="The body is the flow file (YAML or JSON). A valid file becomes the active version "
                        "(201); sessions already running finish on their version. A file with errors is 422 "
                        "`invalid_flow` with `details.errors` = [{line, reason}], and nothing changes.")
async def import_flow(name: FlowName, request: Request, response: Response, caller: ApiWorkspace,
                      runtime: RuntimeDep) -> FlowOut:
    try:
        source = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise AppError("the flow file must be UTF-8 text", code="invalid_flow", status_code=422) from None
    try:
        async with runtime.transaction() as session:
            row, created = await service.import_flow(session, workspace_id=caller.workspace_id, source=source,
                                                     name=name, actor=caller.actor)
    except IntegrityError:
        raise Conflict("another import of this flow happened at the same moment; try again",
                       code="concurrent_import") from None
    if not created:
        response.status_code = 200
    return _flow_out(row)


@router.get("/assistant/flows/{name}/export", response_class=PlainTextResponse, tags=["assistant"],
            summary="Export a flow", responses=error_responses(404),
            description="The file exactly as imported: the active version, or `version`.")
async def export_flow(name: FlowName, caller: ApiWorkspace, runtime: RuntimeDep,
                      version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> PlainTextResponse:
    async with runtime.sessionmaker() as session:
        source = await service.export_flow(session, workspace_id=caller.workspace_id, name=name, version=version)
    media = "application/json" if source.lstrip().startswith("{") else "application/yaml"
    return PlainTextResponse(source, media_type=media)


@router.post("/assistant/flows/{name}/versions/{version}/activate", response_model=FlowOut, tags=["assistant"],
             summary="Activate a version (roll back)", responses=error_responses(404))
async def activate(name: FlowName, version: Version, caller: ApiWorkspace, runtime: RuntimeDep) -> FlowOut:
    async with runtime.transaction() as session:
        row = await service.activate_version(session, workspace_id=caller.workspace_id, name=name, version=version,
                                             actor=caller.actor)
    return _flow_out(row)


@router.delete("/assistant/flows/{name}", status_code=204, tags=["assistant"], summary="Delete a flow",
               responses=error_responses(404),
               description="Stops serving it; its versions are kept for the sessions running on them.")
async def delete_flow(name: FlowName, caller: ApiWorkspace, runtime: RuntimeDep) -> Response:
    async with runtime.transaction() as session:
        await service.delete_flow(session, workspace_id=caller.workspace_id, name=name, actor=caller.actor)
    return Response(status_code=204)


# ---- payments ----------------------------------------------------------------------------------------------

class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    contact_id: int
    reference: str
    amount_cents: int
    currency: str
    status: str = Field(description="pending_approval | approved (link being made) | rejected | link_sent")
    payment_url: str | None
    decided_by: int | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime


class PaymentDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: RowId = Field(description="The agent who decides (recorded in the audit log).")
    note: str | None = Field(default=None, max_length=500, description="Why (rejections).")


@router.get("/payments", response_model=list[PaymentOut], tags=["payments"], summary="List payment requests")
async def list_payments(caller: ApiWorkspace, runtime: RuntimeDep,
                        status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$")] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[PaymentOut]:
    async with runtime.sessionmaker() as session:
        rows = await repository.payments_of(session, caller.workspace_id, status=status, limit=limit)
    return [PaymentOut.model_validate(row) for row in rows]


async def _decide(payment_id: int, body: PaymentDecision, caller: Any, runtime: Any, approve: bool) -> PaymentRequest:
    async with runtime.transaction() as session:
        agent = await access_agent(session, caller.workspace_id, body.agent_id)
        if agent is None:
            raise NotFound(f"no agent {body.agent_id} in this workspace")
        if approve:
            return await payments.approve_payment(session, request_id=payment_id, agent=agent)
        return await payments.reject_payment(session, request_id=payment_id, agent=agent, note=body.note)


@router.post("/payments/{payment_id}/approve", response_model=PaymentOut, tags=["payments"],
             summary="Approve a payment", responses=error_responses(404, 409),
             description="The customer gets the payment link as a transactional message (at once, or as soon "
                         "as the brand's link action answers). 409 `payment_decided` when already decided.")
async def approve(payment_id: PaymentId, body: PaymentDecision, caller: ApiWorkspace,
                  runtime: RuntimeDep) -> PaymentOut:
    return PaymentOut.model_validate(await _decide(payment_id, body, caller, runtime, approve=True))


@router.post("/payments/{payment_id}/reject", response_model=PaymentOut, tags=["payments"],
             summary="Reject a payment", responses=error_responses(404, 409),
             description="The customer is told politely; the conversation stays with the team.")
async def reject(payment_id: PaymentId, body: PaymentDecision, caller: ApiWorkspace,
                 runtime: RuntimeDep) -> PaymentOut:
    return PaymentOut.model_validate(await _decide(payment_id, body, caller, runtime, approve=False))
