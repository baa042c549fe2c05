"""/api/v1/assistant: the workspace's intents (JSON and YAML), model versions and assistant settings.

Every intent change asks for a retrain in the background; the running model answers until the new version is
ready. A bad YAML file, a bad model directory or a version that does not load is refused with 422 and changes
nothing.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.routing import APIRoute

from touchpoint.api.deps import ApiRoute, ApiWorkspace, RuntimeDep
from touchpoint.api.schemas import error_responses
from touchpoint.assistant.intents import repository, service, versions
from touchpoint.assistant.intents.schemas import (
    MAX_EXAMPLE_CHARS,
    MIN_EXAMPLES,
    AssistantSettings,
    ImportResult,
    IntentCreate,
    IntentList,
    IntentOut,
    IntentSpec,
    IntentUpdate,
    ModelVersionList,
    ModelVersionOut,
    TrainingRequested,
)
from touchpoint.assistant.intents.yaml_io import MAX_YAML_BYTES, builtin_intents, parse_intents_yaml
from touchpoint.assistant.training import request_training
from touchpoint.kit.body import read_capped
from touchpoint.kit.errors import NotFound
from touchpoint.models import Intent
from touchpoint.workspaces.audit import record_audit

router = APIRouter(prefix="/assistant", tags=["assistant"], route_class=ApiRoute)
# The YAML import reads its own (larger) body: ApiRoute would cap it at the JSON limit first.
yaml_router = APIRouter(tags=["assistant"], route_class=APIRoute)

IntentName = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,100}$", max_length=100, description="Intent name.",
                                 examples=["opening_hours"])]
Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", max_length=64, description="Model version.",
                              examples=["v0002"])]


def _out(intent: Intent | None, spec: IntentSpec) -> IntentOut:
    return IntentOut(id=intent.id if intent else None, name=spec.name, description=spec.description,
                     examples=list(spec.examples), response=spec.response, flow=spec.flow, builtin=intent is None,
                     created_at=intent.created_at if intent else None, updated_at=intent.updated_at if intent else None)


# --- intents ----------------------------------------------------------------------------------------------------

@router.get("/intents", response_model=IntentList, summary="List intents",
            description="The workspace's intents by name. With `include_builtin=true` also the built-in intents "
                        "(greeting, human_request, complaint, payment_problem...) the workspace does not override; "
                        "every model is trained on both.")
async def list_intents(caller: ApiWorkspace, runtime: RuntimeDep,
                       include_builtin: Annotated[bool, Query(description="Add the built-in intents.")] = False,
                       ) -> IntentList:
    async with runtime.sessionmaker() as session:
        pairs = await service.effective_intents(session, caller.workspace_id, include_builtin=include_builtin)
    return IntentList(data=[_out(row, spec) for row, spec in pairs])


@router.post("/intents", status_code=201, response_model=IntentOut, summary="Create an intent",
             responses=error_responses(409),
             description=f"At least {MIN_EXAMPLES} different examples (10 or more phrased differently work better), "
                         f"each at most {MAX_EXAMPLE_CHARS} characters; an example may teach only one intent. "
                         "Creating an intent named like a built-in one overrides it. The model is retrained in "
                         "the background.")
async def create_intent(body: IntentCreate, caller: ApiWorkspace, runtime: RuntimeDep) -> IntentOut:
    spec = IntentSpec(name=body.name, examples=tuple(body.examples), description=body.description,
                      response=body.response, flow=body.flow)
    async with runtime.transaction() as session:
        intent = await service.create_intent(session, workspace_id=caller.workspace_id, spec=spec,
                                             actor=caller.actor)
    return _out(intent, service.spec_of(intent))


@router.get("/intents/{name}", response_model=IntentOut, summary="Get an intent", responses=error_responses(404))
async def get_intent(name: IntentName, caller: ApiWorkspace, runtime: RuntimeDep) -> IntentOut:
    async with runtime.sessionmaker() as session:
        intent = await repository.access_intent(session, caller.workspace_id, name)
    if intent is not None:
        return _out(intent, service.spec_of(intent))
    builtin = next((spec for spec in builtin_intents() if spec.name == name), None)
    if builtin is None:
        raise NotFound(f"no intent {name!r} in this workspace")
    return _out(None, builtin)


@router.patch("/intents/{name}", response_model=IntentOut, summary="Update an intent",
              responses=error_responses(404, 409),
              description="Only the fields sent change (`examples` replaces the whole list); `response` or `flow` "
                          "set to null clears it. A built-in intent is changed by creating one of its name.")
async def update_intent(name: IntentName, body: IntentUpdate, caller: ApiWorkspace,
                        runtime: RuntimeDep) -> IntentOut:
    async with runtime.transaction() as session:
        intent = await service.require_intent(session, caller.workspace_id, name)
        await service.update_intent(session, intent=intent, changes=body.model_dump(exclude_unset=True),
                                    actor=caller.actor)
    return _out(intent, service.spec_of(intent))


@router.delete("/intents/{name}", status_code=204, summary="Delete an intent", responses=error_responses(404),
               description="Deleting an override of a built-in intent brings the built-in one back.")
async def delete_intent(name: IntentName, caller: ApiWorkspace, runtime: RuntimeDep) -> Response:
    async with runtime.transaction() as session:
        intent = await service.require_intent(session, caller.workspace_id, name)
        await service.delete_intent(session, intent=intent, actor=caller.actor)
    return Response(status_code=204)


@router.get("/intents.yaml", summary="Export intents as YAML", response_class=Response,
            responses={200: {"content": {"application/yaml": {}}, "description": "The intents file."}},
            description="The workspace's own intents (not the built-ins) in the format PUT reads back.")
async def export_intents(caller: ApiWorkspace, runtime: RuntimeDep) -> Response:
    async with runtime.sessionmaker() as session:
        text = await service.export_intents(session, caller.workspace_id)
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="intents.yaml"'})


@yaml_router.put(
    "/intents.yaml", response_model=ImportResult, summary="Import intents from YAML",
    responses=error_responses(401, 413, 422),
    openapi_extra={"requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}},
    description="The body is the YAML file (any content type), at most 2 MiB:\n\n"
                "```yaml\nintents:\n  - name: opening_hours\n    description: When we are open\n    examples:\n"
                "      - when are you open\n      - are you open on sunday?\n    response: We are open 9-18.\n```\n\n"
                "`mode=replace` (default): the file becomes the workspace's intents; intents not in it are deleted. "
                "`mode=merge`: intents in the file are created or replaced by name, the others kept.\n\n"
                "A file with any error is refused with 422 `intent_file_invalid`: the message starts with the line "
                "(`line 7: ...`) and `details.errors` lists up to 20 problems with their lines. Nothing changes, "
                "and the running model keeps serving. Plain values are read as written (`- yes` is the text "
                "\"yes\"); aliases and custom tags are refused.")
async def import_intents(request: Request, caller: ApiWorkspace, runtime: RuntimeDep,
                         mode: Annotated[service.ImportMode, Query(description="replace or merge")] = "replace",
                         ) -> ImportResult:
    body = await read_capped(request, MAX_YAML_BYTES)
    specs = await asyncio.to_thread(parse_intents_yaml, body)  # CPU: keep it off the event loop
    async with runtime.transaction() as session:
        return await service.import_intents(session, workspace_id=caller.workspace_id, specs=specs, mode=mode,
                                            actor=caller.actor)


# --- training and versions ------------------------------------------------------------------------------------

@router.post("/train", status_code=202, response_model=TrainingRequested, summary="Retrain the model",
             description="Asks for a new model version, trained in the background on the workspace's intents and "
                         "the built-ins. Follow it with GET /assistant/models.")
async def train(caller: ApiWorkspace, runtime: RuntimeDep) -> TrainingRequested:
    async with runtime.transaction() as session:
        requested = await request_training(session, caller.workspace_id, "requested through the API")
        record_audit(session, workspace_id=caller.workspace_id, actor=caller.actor, action="assistant.train",
                     subject_type="workspace", subject_id=caller.workspace_id, requested=requested)
    return TrainingRequested(requested=requested)


@router.get("/models", response_model=ModelVersionList, summary="List model versions",
            description="Newest first: `training`, `ready` or `failed` (with the error), which one is active, and "
                        "details (intent and example counts, encoder, training seconds, warnings such as "
                        "\"no embedding model installed; lower accuracy\").")
async def list_models(caller: ApiWorkspace, runtime: RuntimeDep) -> ModelVersionList:
    async with runtime.sessionmaker() as session:
        return await versions.list_versions(session, caller.workspace_id)


@router.post("/models/rollback", response_model=ModelVersionOut, summary="Roll back to the previous version",
             responses=error_responses(409, 422),
             description="Activates the newest ready version older than the active one; 409 when there is none. "
                         "The version is loaded first: one that no longer loads is refused (422).")
async def rollback(caller: ApiWorkspace, runtime: RuntimeDep) -> ModelVersionOut:
    async with runtime.sessionmaker() as session:
        target = await versions.rollback_target(session, caller.workspace_id)
    return await _switch(caller, runtime, target.version, "assistant.model.rollback")


@router.post("/models/{version}/activate", response_model=ModelVersionOut, summary="Activate a version",
             responses=error_responses(404, 409, 422),
             description="Only a ready version that loads can be activated; the assistant switches to it within "
                         "seconds, without pausing messages.")
async def activate(version: Version, caller: ApiWorkspace, runtime: RuntimeDep) -> ModelVersionOut:
    return await _switch(caller, runtime, version, "assistant.model.activate")


async def _switch(caller: ApiWorkspace, runtime: RuntimeDep, version: str, action: str) -> ModelVersionOut:
    async with runtime.sessionmaker() as session:
        row = await versions.activation_target(session, caller.workspace_id, version)
    await versions.check_loadable(runtime.settings, caller.workspace_id, row)  # in a thread, no transaction open
    async with runtime.transaction() as session:
        row = await versions.activate(session, workspace_id=caller.workspace_id, version=version, actor=caller.actor,
                                      action=action)
    versions.sync_store_current(runtime.settings, caller.workspace_id, row.version)
    return ModelVersionOut.model_validate(row)


# --- settings ---------------------------------------------------------------------------------------------------

@router.get("/settings", response_model=AssistantSettings, summary="Get the assistant settings")
async def get_settings(caller: ApiWorkspace, runtime: RuntimeDep) -> AssistantSettings:
    async with runtime.sessionmaker() as session:
        return service.settings_of(await service.require_workspace(session, caller.workspace_id))


@router.put("/settings", response_model=AssistantSettings, summary="Replace the assistant settings",
            responses=error_responses(422),
            description="`model_dir` is checked by loading it: a directory that is outside the allowed root, "
                        "missing, incomplete or corrupt is refused with 422 and nothing changes. A new `model_dir` "
                        "retrains the model with it.")
async def put_settings(body: AssistantSettings, caller: ApiWorkspace, runtime: RuntimeDep) -> AssistantSettings:
    if body.model_dir is not None:
        await service.check_model_dir(runtime.settings, body.model_dir)  # in a thread, no transaction open
    async with runtime.transaction() as session:
        workspace = await service.require_workspace(session, caller.workspace_id)
        return await service.update_settings(session, workspace=workspace, new=body, actor=caller.actor)


router.include_router(yaml_router)
