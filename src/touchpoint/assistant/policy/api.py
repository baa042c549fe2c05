"""/api/v1/assistant/policy and /api/v1/assistant/decisions: read, replace and roll back the escalation policy,
and audit what the assistant decided in a conversation (rule, scores, versions).

The policy is sent as YAML (Content-Type application/yaml, text/yaml or text/plain) or as JSON {"source": "..."}.
A policy with an error is a 422 `invalid_policy` naming the line and the reason; the running version is untouched.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from touchpoint.api.deps import ApiRoute, ApiWorkspace, RuntimeDep
from touchpoint.api.schemas import error_responses
from touchpoint.assistant.policy import service
from touchpoint.assistant.policy.rules import DEFAULTS_FILE, EscalationPolicy, PolicyError
from touchpoint.contacts.schemas import MAX_ID
from touchpoint.models import EscalationPolicyVersion

router = APIRouter(prefix="/assistant", tags=["assistant"], route_class=ApiRoute)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


class PolicyView(BaseModel):
    version: int | None = Field(description="Stored version in force; null: the shipped default policy.")
    is_default: bool
    source: str = Field(description="The policy as written (YAML).")
    policy: dict[str, Any] = Field(description="The policy as parsed: settings and ordered rules.")


class PolicyVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    is_active: bool
    created_at: datetime
    created_by: str | None


class PolicyVersionList(BaseModel):
    data: list[PolicyVersionOut]


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    message_id: int | None
    action: str = Field(description="answer | flow | clarify | escalate")
    rule: str = Field(description="The policy rule that decided (default_answer when none fired).")
    intent: str | None
    confidence: float
    language: str | None
    sentiment: float | None
    team_slug: str | None
    scores: dict[str, Any]
    model_version: str | None
    policy_version: int | None = Field(description="null: the shipped default policy.")
    created_at: datetime


class DecisionPage(BaseModel):
    data: list[DecisionOut]
    next_before: int | None = Field(description="Pass as `before` for older decisions; null at the end.")


def _view(policy: EscalationPolicy, version: int | None) -> PolicyView:
    source = policy.source or DEFAULTS_FILE.read_text(encoding="utf-8")
    return PolicyView(version=version, is_default=version is None, source=source, policy=policy.to_dict())


def _row_view(row: EscalationPolicyVersion) -> PolicyView:
    return PolicyView(version=row.version, is_default=False, source=row.source, policy=row.rules)


async def _policy_source(request: Request) -> str:
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(1, "the policy is not UTF-8 text") from None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise PolicyError(1, "the JSON body is not valid; send {\"source\": \"<the YAML policy>\"}") from None
        if not isinstance(data, dict) or not isinstance(data.get("source"), str):
            raise PolicyError(1, "send {\"source\": \"<the YAML policy>\"}, or the YAML itself as application/yaml")
        return str(data["source"])
    return text


@router.get("/policy", response_model=PolicyView, summary="The escalation policy in force",
            description="The active version's YAML and its parsed rules; `version: null` is the shipped default.")
async def get_policy(caller: ApiWorkspace, runtime: RuntimeDep) -> PolicyView:
    async with runtime.transaction() as session:
        policy, version = await service.active_policy(session, caller.workspace_id)
    return _view(policy, version)


@router.put("/policy", response_model=PolicyView, summary="Replace the escalation policy",
            responses=error_responses(409, 422),
            description="Stores the YAML as the next version and makes it active. Rules are ordered and the first "
                        "match wins; see docs/escalation.md. Errors are 422 `invalid_policy` with `details.line` "
                        "and `details.reason`, and change nothing.",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object", "required": ["source"],
                                                "properties": {"source": {"type": "string"}}}}}}})
async def put_policy(request: Request, caller: ApiWorkspace, runtime: RuntimeDep) -> PolicyView:
    source = await _policy_source(request)
    async with runtime.transaction() as session:
        row = await service.import_policy(session, caller.workspace_id, source, actor=caller.actor)
        view = _row_view(row)
    return view


@router.get("/policy/versions", response_model=PolicyVersionList, summary="Stored policy versions",
            description="Newest first; at most one is active.")
async def list_policy_versions(caller: ApiWorkspace, runtime: RuntimeDep) -> PolicyVersionList:
    async with runtime.transaction() as session:
        rows = await service.list_versions(session, caller.workspace_id)
        return PolicyVersionList(data=[PolicyVersionOut.model_validate(r) for r in rows])


@router.post("/policy/versions/{version}/activate", response_model=PolicyView, summary="Activate a stored version",
             responses=error_responses(404, 422), description="Roll back (or forward) to a stored version.")
async def activate_policy_version(
    version: Annotated[int, Path(ge=1, le=1_000_000, description="Version number.")], caller: ApiWorkspace,
    runtime: RuntimeDep,
) -> PolicyView:
    async with runtime.transaction() as session:
        row = await service.activate_version(session, caller.workspace_id, version, actor=caller.actor)
        return _row_view(row)


@router.get("/decisions", response_model=DecisionPage, summary="The assistant's decisions in a conversation",
            responses=error_responses(404),
            description="Newest first: what the bot did with each customer message, the rule that decided, the "
                        "scores it read, and the model and policy versions.")
async def list_decisions(
    caller: ApiWorkspace, runtime: RuntimeDep,
    conversation_id: Annotated[int, Query(ge=1, le=MAX_ID, description="Conversation id.")],
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="`next_before` of the previous page.")] = None,
) -> DecisionPage:
    async with runtime.transaction() as session:
        rows = await service.decisions_for(session, caller.workspace_id, conversation_id, limit=limit + 1,
                                           before_id=before)
        page = rows[:limit]
        data = [DecisionOut.model_validate(r) for r in page]
    return DecisionPage(data=data, next_before=page[-1].id if len(rows) > limit else None)
