"""Changing a workspace's intents and assistant settings. Every change that alters what the model should learn
asks for a retrain (`request_training`) in the same transaction; the running model keeps serving until the new
version is ready. Services flush, never commit."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.intents import repository
from touchpoint.assistant.intents.schemas import AssistantSettings, ImportResult, IntentSpec, intent_set_problems
from touchpoint.assistant.intents.yaml_io import builtin_intents, dump_intents_yaml
from touchpoint.assistant.training import request_training, resolve_model_dir
from touchpoint.config import Settings
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import AppError, Conflict, NotFound
from touchpoint.models import Intent, Workspace
from touchpoint.workspaces.audit import Actor, record_audit

ImportMode = Literal["replace", "merge"]
_FIELDS = ("name", "description", "examples", "response", "flow")


def spec_of(intent: Intent) -> IntentSpec:
    examples = tuple(e for e in (intent.examples or []) if isinstance(e, str))
    return IntentSpec(name=intent.name, examples=examples, description=intent.description or "",
                      response=intent.response, flow=intent.flow)


def _apply(intent: Intent, spec: IntentSpec) -> None:
    intent.name, intent.description, intent.examples = spec.name, spec.description, list(spec.examples)
    intent.response, intent.flow = spec.response, spec.flow
    intent.updated_at = utcnow()


def _check_set(specs: list[IntentSpec]) -> None:
    problems = intent_set_problems(specs)
    if problems:
        raise AppError(problems[0], code="intent_invalid", status_code=422, details={"problems": problems[:20]})


async def require_intent(session: AsyncSession, workspace_id: int, name: str) -> Intent:
    intent = await repository.access_intent(session, workspace_id, name)
    if intent is None:
        raise NotFound(f"no intent {name[:100]!r} in this workspace")
    return intent


async def effective_intents(session: AsyncSession, workspace_id: int, *, include_builtin: bool,
                            ) -> list[tuple[Intent | None, IntentSpec]]:
    """The workspace's intents (row, spec), plus with `include_builtin` the built-ins it does not override."""
    rows = await repository.intents_of(session, workspace_id)
    out: list[tuple[Intent | None, IntentSpec]] = [(row, spec_of(row)) for row in rows]
    if include_builtin:
        names = {row.name for row in rows}
        out += [(None, spec) for spec in builtin_intents() if spec.name not in names]
        out.sort(key=lambda pair: pair[1].name)
    return out


async def create_intent(session: AsyncSession, *, workspace_id: int, spec: IntentSpec, actor: Actor) -> Intent:
    rows = await repository.intents_of(session, workspace_id)
    if any(row.name == spec.name for row in rows):
        raise Conflict(f"intent {spec.name!r} already exists; change it with PATCH", code="intent_exists")
    _check_set([*map(spec_of, rows), spec])
    intent = Intent(workspace_id=workspace_id, name=spec.name)
    _apply(intent, spec)
    session.add(intent)
    await session.flush()
    record_audit(session, workspace_id=workspace_id, actor=actor, action="assistant.intent.create",
                 subject_type="intent", subject_id=intent.id, name=spec.name)
    await request_training(session, workspace_id, f"intent {spec.name} created")
    return intent


async def update_intent(session: AsyncSession, *, intent: Intent, changes: dict[str, Any], actor: Actor) -> Intent:
    current = spec_of(intent)
    # null clears response and flow; for the other fields it means "unchanged"
    fields = {k: v for k, v in changes.items() if k in _FIELDS and (v is not None or k in ("response", "flow"))}
    if "examples" in fields:
        fields["examples"] = tuple(fields["examples"])
    spec = dataclasses.replace(current, **fields)
    if spec == current:
        return intent
    rows = await repository.intents_of(session, intent.workspace_id)
    if spec.name != current.name and any(row.name == spec.name for row in rows):
        raise Conflict(f"intent {spec.name!r} already exists", code="intent_exists")
    _check_set([spec if row.id == intent.id else spec_of(row) for row in rows])
    _apply(intent, spec)
    await session.flush()
    record_audit(session, workspace_id=intent.workspace_id, actor=actor, action="assistant.intent.update",
                 subject_type="intent", subject_id=intent.id, name=spec.name,
                 fields=sorted(k for k in _FIELDS if getattr(current, k) != getattr(spec, k)))
    await request_training(session, intent.workspace_id, f"intent {spec.name} changed")
    return intent


async def delete_intent(session: AsyncSession, *, intent: Intent, actor: Actor) -> None:
    await session.delete(intent)
    await session.flush()
    record_audit(session, workspace_id=intent.workspace_id, actor=actor, action="assistant.intent.delete",
                 subject_type="intent", subject_id=intent.id, name=intent.name)
    await request_training(session, intent.workspace_id, f"intent {intent.name} deleted")


async def import_intents(session: AsyncSession, *, workspace_id: int, specs: list[IntentSpec], mode: ImportMode,
                         actor: Actor) -> ImportResult:
    """`replace`: the file becomes the workspace's intents (those not in it are deleted). `merge`: intents in the
    file are created or replaced by name, the others kept. All checks run before the first write."""
    rows = {row.name: row for row in await repository.intents_of(session, workspace_id)}
    incoming = {spec.name: spec for spec in specs}
    created = [name for name in incoming if name not in rows]
    updated = [name for name, spec in incoming.items() if name in rows and spec_of(rows[name]) != spec]
    deleted = sorted(name for name in rows if name not in incoming) if mode == "replace" else []
    if mode == "merge":
        _check_set([*(spec_of(row) for name, row in rows.items() if name not in incoming), *specs])
    for name in deleted:
        await session.delete(rows[name])
    for name in updated:
        _apply(rows[name], incoming[name])
    for name in created:
        intent = Intent(workspace_id=workspace_id, name=name)
        _apply(intent, incoming[name])
        session.add(intent)
    await session.flush()
    changed = bool(created or updated or deleted)
    if changed:
        record_audit(session, workspace_id=workspace_id, actor=actor, action="assistant.intents.import",
                     subject_type="workspace", subject_id=workspace_id, mode=mode, created=created[:100],
                     updated=updated[:100], deleted=deleted[:100])
        await request_training(session, workspace_id, f"intents imported ({mode})")
    return ImportResult(mode=mode, created=created, updated=updated, deleted=deleted,
                        unchanged=len(incoming) - len(created) - len(updated), training_requested=changed)


async def export_intents(session: AsyncSession, workspace_id: int) -> str:
    rows = await repository.intents_of(session, workspace_id)
    return dump_intents_yaml([spec_of(row) for row in rows],
                             header="Touchpoint intents; import with PUT /api/v1/assistant/intents.yaml")


# --- workspace assistant settings -----------------------------------------------------------------------------

def settings_of(workspace: Workspace) -> AssistantSettings:
    """The stored settings, read leniently: a hand-edited value that no longer validates reads as the default."""
    raw = (workspace.settings or {}).get("assistant")
    raw = raw if isinstance(raw, dict) else {}
    languages = [c for c in raw.get("languages") or [] if isinstance(c, str)]
    model_dir = raw.get("model_dir") if isinstance(raw.get("model_dir"), str) else None
    try:
        return AssistantSettings(languages=languages, model_dir=model_dir)
    except ValueError:
        return AssistantSettings()


async def require_workspace(session: AsyncSession, workspace_id: int) -> Workspace:
    workspace = await repository.access_workspace(session, workspace_id)
    if workspace is None:
        raise NotFound("no such workspace")
    return workspace


async def check_model_dir(settings: Settings, value: str) -> None:
    """Refuses (422) a model directory outside `<data_dir>/models`, missing, incomplete or that does not load.
    Loads it in a thread, outside any transaction (about half a second); the loaded encoder stays cached for the
    training that follows."""
    path = resolve_model_dir(settings, value)
    try:
        from touchpoint.assistant.nlu import shared_encoder
    except ImportError:
        raise AppError("a model directory needs the nlu extra (pip install 'touchpoint[nlu]'), which is not "
                       "installed on this server", code="nlu_not_installed", status_code=422) from None
    await asyncio.to_thread(shared_encoder, path)  # ModelLoadError is a 422 with the reason


async def update_settings(session: AsyncSession, *, workspace: Workspace, new: AssistantSettings,
                          actor: Actor) -> AssistantSettings:
    """Store `new` (already checked with check_model_dir). A new model directory means a new vector space:
    the model is retrained with it."""
    old = settings_of(workspace)
    stored = new.model_dump()
    workspace.settings = {**(workspace.settings or {}), "assistant": {**_raw_assistant(workspace), **stored}}
    await session.flush()
    record_audit(session, workspace_id=workspace.id, actor=actor, action="assistant.settings.update",
                 subject_type="workspace", subject_id=workspace.id, **stored)
    if old.model_dir != new.model_dir:
        await request_training(session, workspace.id, "model directory changed")
    return new


def _raw_assistant(workspace: Workspace) -> dict[str, Any]:
    raw = (workspace.settings or {}).get("assistant")
    return dict(raw) if isinstance(raw, dict) else {}
