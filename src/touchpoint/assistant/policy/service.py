"""The workspace's escalation policy: the active version (cached briefly), importing a new one, rolling back.

Every version is kept (old decisions name the version they were taken under). Importing parses first, so a policy
with an error is refused with its line and the running version stays active. A workspace that never imported one
runs the shipped default (version None).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.policy import repository
from touchpoint.assistant.policy.rules import EscalationPolicy, PolicyError, default_policy, parse_policy
from touchpoint.conversations.repository import access_conversation
from touchpoint.kit.errors import Conflict, NotFound
from touchpoint.models import AssistantDecision, EscalationPolicyVersion
from touchpoint.workspaces.audit import Actor, record_audit

log = logging.getLogger(__name__)
# Every assistant decision reads the policy; a change shows within this long in every process.
CACHE_SECONDS = 5.0
_Entry = tuple[float, tuple[int, int, datetime] | None, EscalationPolicy, int | None]
# Per database engine (a process may hold several, tests do), workspace id -> (checked at, identity of the
# active row, parsed policy, version number).
_caches: weakref.WeakKeyDictionary[Any, dict[int, _Entry]] = weakref.WeakKeyDictionary()


def forget(workspace_id: int) -> None:
    """Drop the cached policy of a workspace (this process; others see a change within CACHE_SECONDS)."""
    for cache in list(_caches.values()):
        cache.pop(workspace_id, None)


def _cache_of(session: AsyncSession) -> dict[int, _Entry]:
    bind = session.bind
    if bind is None:
        return {}
    cache = _caches.get(bind)
    if cache is None:
        cache = _caches[bind] = {}
    return cache


def _parse_stored(row: EscalationPolicyVersion) -> EscalationPolicy:
    try:
        return parse_policy(row.source)
    except PolicyError as exc:
        # Only possible if a later release reads policies more strictly; the default is the safe fallback.
        log.error("workspace %s: stored escalation policy version %s no longer parses (%s); using the default",
                  row.workspace_id, row.version, exc.message)
        return default_policy()


async def active_policy(session: AsyncSession, workspace_id: int) -> tuple[EscalationPolicy, int | None]:
    """The policy in force and its version (None: the shipped default)."""
    now = time.monotonic()
    cache = _cache_of(session)
    hit = cache.get(workspace_id)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[2], hit[3]
    row = await repository.active_version(session, workspace_id)
    identity = (row.id, row.version, row.created_at) if row is not None else None
    if hit is not None and hit[1] == identity:
        policy = hit[2]  # unchanged: keep the parsed rules
    else:
        policy = _parse_stored(row) if row is not None else default_policy()
    number = row.version if row is not None else None
    cache[workspace_id] = (now, identity, policy, number)
    return policy, number


async def import_policy(session: AsyncSession, workspace_id: int, source: str, *,
                        actor: Actor) -> EscalationPolicyVersion:
    """Parse (422 with line and reason on error), store as the next version and make it the active one."""
    policy = parse_policy(source)
    number = await repository.latest_number(session, workspace_id) + 1
    await repository.deactivate_all(session, workspace_id)
    row = EscalationPolicyVersion(workspace_id=workspace_id, version=number, source=source, rules=policy.to_dict(),
                                  is_active=True, created_by=(actor.name or actor.kind)[:200])
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("another policy version was saved at the same moment; send it again",
                       code="policy_version_conflict") from None
    record_audit(session, workspace_id=workspace_id, actor=actor, action="assistant.policy_import",
                 subject_type="escalation_policy", subject_id=row.id, version=number, rules=len(policy.rules))
    forget(workspace_id)
    return row


async def list_versions(session: AsyncSession, workspace_id: int) -> Sequence[EscalationPolicyVersion]:
    return await repository.versions_of(session, workspace_id)


async def activate_version(session: AsyncSession, workspace_id: int, number: int, *,
                           actor: Actor) -> EscalationPolicyVersion:
    """Roll back (or forward) to a stored version."""
    row = await repository.version(session, workspace_id, number)
    if row is None:
        raise NotFound(f"no escalation policy version {number} in this workspace")
    parse_policy(row.source)  # refuse to activate what would not run
    await repository.deactivate_all(session, workspace_id)
    row.is_active = True
    await session.flush()
    record_audit(session, workspace_id=workspace_id, actor=actor, action="assistant.policy_activate",
                 subject_type="escalation_policy", subject_id=row.id, version=number)
    forget(workspace_id)
    return row


async def decisions_for(session: AsyncSession, workspace_id: int, conversation_id: int, *, limit: int = 100,
                        before_id: int | None = None) -> Sequence[AssistantDecision]:
    """The assistant's decisions in one conversation, newest first (404 outside the workspace)."""
    if await access_conversation(session, workspace_id, conversation_id) is None:
        raise NotFound(f"no conversation {conversation_id} in this workspace")
    return await repository.decisions_of(session, workspace_id, conversation_id, limit=limit, before_id=before_id)
