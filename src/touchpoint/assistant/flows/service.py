"""Flow versions: import (a new active version, only when valid), export, activate an older one, delete.

Running sessions keep the version they started with; a new version serves flows started after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.flows import repository
from touchpoint.assistant.flows.definition import Flow, FlowDefinitionError, parse_flow
from touchpoint.assistant.flows.runner import load_flow
from touchpoint.kit.errors import NotFound
from touchpoint.models import FlowDefinition
from touchpoint.workspaces.audit import Actor, record_audit


async def import_flow(session: AsyncSession, *, workspace_id: int, source: str, name: str | None = None,
                      actor: Actor | None = None) -> tuple[FlowDefinition, bool]:
    """Validate `source` (YAML or JSON) and make it the active version. Returns (version, created): the
    same source as the active version creates nothing. A file with errors raises FlowDefinitionError (422,
    every problem with its line) and leaves the running version untouched. `name`, when given (the URL),
    must match the file's."""
    flow, definition = parse_flow(source)
    if name is not None and flow.name != name:
        raise FlowDefinitionError(f"the file defines flow {flow.name!r}, not {name!r}",
                                  details={"errors": [{"line": 0, "reason": "name does not match the URL"}]})
    current = await repository.active_flow(session, workspace_id, flow.name)
    if current is not None and current.source == source:
        return current, False
    version = await repository.latest_version_number(session, workspace_id, flow.name) + 1
    await repository.deactivate_flow(session, workspace_id, flow.name)
    row = FlowDefinition(workspace_id=workspace_id, name=flow.name, version=version, source=source,
                         definition=definition, is_active=True)
    session.add(row)
    await session.flush()
    record_audit(session, workspace_id=workspace_id, actor=actor or Actor.system(), action="flow.import",
                 subject_type="flow", subject_id=row.id, name=flow.name, version=version)
    return row, True


async def access_flow(session: AsyncSession, workspace_id: int, name: str,
                      version: int | None = None) -> FlowDefinition:
    row = (await repository.flow_version(session, workspace_id, name, version) if version is not None
           else await repository.active_flow(session, workspace_id, name))
    if row is None:
        raise NotFound(f"no flow {name!r}" + (f" version {version}" if version is not None else "")
                       + " in this workspace")
    return row


async def export_flow(session: AsyncSession, *, workspace_id: int, name: str, version: int | None = None) -> str:
    """The source exactly as imported (comments and all)."""
    return (await access_flow(session, workspace_id, name, version)).source


async def activate_version(session: AsyncSession, *, workspace_id: int, name: str, version: int,
                           actor: Actor | None = None) -> FlowDefinition:
    """Serve an older (or newer) version again: a rollback."""
    row = await access_flow(session, workspace_id, name, version)
    await repository.deactivate_flow(session, workspace_id, name)
    row.is_active = True
    await session.flush()
    record_audit(session, workspace_id=workspace_id, actor=actor or Actor.system(), action="flow.activate",
                 subject_type="flow", subject_id=row.id, name=name, version=version)
    return row


async def delete_flow(session: AsyncSession, *, workspace_id: int, name: str, actor: Actor | None = None) -> None:
    """Stop serving the flow. Versions are kept (sessions running on them finish; an import brings it back)."""
    if not await repository.deactivate_flow(session, workspace_id, name):
        raise NotFound(f"no flow {name!r} in this workspace")
    record_audit(session, workspace_id=workspace_id, actor=actor or Actor.system(), action="flow.delete",
                 subject_type="flow", subject_id=None, name=name)


async def list_flows(session: AsyncSession, workspace_id: int) -> Sequence[FlowDefinition]:
    return await repository.active_flows(session, workspace_id)


async def versions(session: AsyncSession, workspace_id: int, name: str) -> Sequence[FlowDefinition]:
    return await repository.flow_versions(session, workspace_id, name)


async def flow_for_intent(session: AsyncSession, workspace_id: int, intent: str) -> str | None:
    """The active flow whose `trigger_intents` include `intent` (for intents without an explicit flow)."""
    for row in await repository.active_flows(session, workspace_id):
        if intent in load_flow(row).trigger_intents:
            return row.name
    return None


def parsed(row: FlowDefinition) -> Flow:
    return load_flow(row)
