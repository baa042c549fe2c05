"""Audit log writes. Every agent, admin and API-key action that changes something lands here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import AuditEntry


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # agent | api_key | system
    id: int | None = None
    name: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, "system")


def record_audit(session: AsyncSession, *, workspace_id: int, actor: Actor, action: str, subject_type: str,
                 subject_id: int | None, **details: Any) -> None:
    session.add(AuditEntry(workspace_id=workspace_id, actor_type=actor.kind, actor_id=actor.id, action=action,
                           subject_type=subject_type, subject_id=subject_id, details=details))
