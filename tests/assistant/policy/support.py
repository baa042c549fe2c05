"""Helpers for the policy, SLA and hand-off notice tests: signals with defaults, and a migrated demo database
without a web server (the fastest way to exercise services on SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from sqlalchemy import update

from touchpoint.assistant.policy.signals import Signals
from touchpoint.config import Settings
from touchpoint.db.migrate import upgrade
from touchpoint.demo import DemoInfo, ensure_demo
from touchpoint.models import Team, Workspace
from touchpoint.runtime import Runtime, build_runtime

BASE = Signals(text="", language="en", served_languages=("en",), intent="booking_question", confidence=0.9,
               out_of_scope=False, escalation_score=0.05, escalation_cues=(), sentiment=0.0, human_request=False,
               failed_in_row=0, low_confidence_in_row=0, answer_rejected=False, contact_tags=())


def signals(**changes: Any) -> Signals:
    return replace(BASE, **changes)


@contextlib.asynccontextmanager
async def demo_db(settings: Settings) -> AsyncIterator[tuple[Runtime, DemoInfo]]:
    runtime = build_runtime(settings)
    try:
        await upgrade(runtime.engine)
        async with runtime.transaction() as session:
            info = await ensure_demo(session, runtime.box)
            # These tests start from Touchpoint's defaults, not the demo's round-the-clock hours and short SLA.
            workspace = await session.get(Workspace, info.workspace_id)
            assert workspace is not None
            workspace.settings = {k: v for k, v in workspace.settings.items() if k not in ("sla", "business_hours")}
            await session.execute(update(Team).where(Team.workspace_id == info.workspace_id).values(languages="en"))
        yield runtime, info
    finally:
        await runtime.close()
