"""Model versions of a workspace: list, activate one, roll back to the one before.

Switching is checked before it happens: the version's files are loaded (in a thread, outside any transaction) and
only a version that loads becomes active, so an operator cannot switch the assistant to a broken model. The
database row is what the engine registry follows; the store's CURRENT marker is kept in step for offline tools.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.engines import load_engine
from touchpoint.assistant.intents import repository
from touchpoint.assistant.intents.schemas import ModelVersionList, ModelVersionOut
from touchpoint.assistant.training import store_root, training_pending
from touchpoint.config import Settings
from touchpoint.kit.errors import AppError, Conflict, NotFound
from touchpoint.models import AssistantModel
from touchpoint.workspaces.audit import Actor, record_audit

log = logging.getLogger(__name__)


async def list_versions(session: AsyncSession, workspace_id: int) -> ModelVersionList:
    rows = await repository.models_of(session, workspace_id)
    return ModelVersionList(data=[ModelVersionOut.model_validate(row) for row in rows],
                            training_pending=await training_pending(session, workspace_id))


async def activation_target(session: AsyncSession, workspace_id: int, version: str) -> AssistantModel:
    row = await repository.access_model(session, workspace_id, version)
    if row is None:
        raise NotFound(f"no model version {version[:64]!r} in this workspace")
    if row.status != "ready":
        raise Conflict(f"version {row.version} is {row.status}, not ready; only a ready version can be activated",
                       code="model_not_ready")
    return row


async def rollback_target(session: AsyncSession, workspace_id: int) -> AssistantModel:
    active = await repository.active_model(session, workspace_id)
    if active is None:
        raise Conflict("no version is active, so there is nothing to roll back from", code="no_active_model")
    previous = await repository.ready_before(session, workspace_id, active.id)
    if previous is None:
        raise Conflict(f"{active.version} is the oldest ready version; there is nothing to roll back to",
                       code="no_previous_model")
    return previous


async def check_loadable(settings: Settings, workspace_id: int, row: AssistantModel) -> None:
    """Raises (422) unless the version's files load with the encoder it was trained with."""
    try:
        await asyncio.to_thread(load_engine, store_root(settings, workspace_id), row.version, dict(row.details or {}),
                                warm=False)
    except ImportError:
        raise AppError("the nlu extra is not installed on this server", code="nlu_not_installed",
                       status_code=422) from None
    except AppError as exc:  # ModelLoadError, VersionNotFound: files missing, corrupt, or another encoder
        raise AppError(f"version {row.version} cannot be loaded: {exc.message}", code="model_invalid",
                       status_code=422) from None


async def activate(session: AsyncSession, *, workspace_id: int, version: str, actor: Actor,
                   action: str = "assistant.model.activate") -> AssistantModel:
    """Make `version` (checked with check_loadable first) the active one."""
    row = await activation_target(session, workspace_id, version)
    previous = await repository.active_model(session, workspace_id)
    await repository.deactivate_models(session, workspace_id)
    row = await session.get(AssistantModel, row.id, populate_existing=True) or row
    row.is_active = True
    await session.flush()
    record_audit(session, workspace_id=workspace_id, actor=actor, action=action, subject_type="assistant_model",
                 subject_id=row.id, version=row.version, previous=previous.version if previous else None)
    return row


def sync_store_current(settings: Settings, workspace_id: int, version: str) -> None:
    """After commit: point the store's CURRENT marker at the version the database made active (best effort;
    the database is what the assistant follows)."""
    try:
        from touchpoint.assistant.nlu import ModelStore

        ModelStore(store_root(settings, workspace_id)).activate(version)
    except (ImportError, OSError, AppError) as exc:
        log.warning("workspace %s: could not mark %s current in the model store: %s", workspace_id, version, exc)
