"""One message through a workspace's live assistant, in a conversation that is rolled back afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from touchpoint.assistant.base import AssistantInput
from touchpoint.assistant.engines import EngineRegistry
from touchpoint.assistant.orchestrator import WorkspaceAssistant
from touchpoint.assistant.stories import parse_stories
from touchpoint.config import Settings
from touchpoint.db.migrate import upgrade
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import NotFound
from touchpoint.models import AssistantDecision, ChannelAccount, Contact, Conversation, Workspace
from touchpoint.runtime import Runtime, build_runtime
from touchpoint.story_runner import StoryOutcome, run_stories
from touchpoint.workspaces import repository


@contextlib.asynccontextmanager
async def workspace_runtime(settings: Settings, slug: str) -> AsyncIterator[tuple[Runtime, int]]:
    """A runtime on a migrated database, and the id of workspace `slug` (NotFound when there is none)."""
    runtime = build_runtime(settings)
    try:
        await upgrade(runtime.engine)
        async with runtime.sessionmaker() as session:
            workspace = await repository.workspace_by_slug(session, slug)
        if workspace is None:
            raise NotFound(f"no workspace {slug!r} (create the demo with `touchpoint demo --no-serve`)")
        yield runtime, workspace.id
    finally:
        await runtime.close()


async def try_message(settings: Settings, slug: str, text: str) -> dict[str, Any]:
    async with workspace_runtime(settings, slug) as (runtime, workspace_id):
        registry = EngineRegistry(settings)
        assistant = WorkspaceAssistant(registry)
        async with runtime.write_sessionmaker() as session:
            try:
                workspace = await session.get(Workspace, workspace_id)
                assert workspace is not None
                account = (await session.execute(select(ChannelAccount).where(
                    ChannelAccount.workspace_id == workspace.id).order_by(ChannelAccount.id).limit(1))).scalar()
                if account is None:
                    raise NotFound(f"workspace {slug!r} has no channel account to try a conversation on")
                contact = Contact(workspace_id=workspace.id, external_ref=f"try-{uuid.uuid4().hex}",
                                  name="Try")
                session.add(contact)
                await session.flush()
                conversation = Conversation(workspace_id=workspace.id, contact_id=contact.id,
                                            channel_account_id=account.id, last_message_at=utcnow())
                session.add(conversation)
                await session.flush()
                decision = await assistant.respond(session, AssistantInput(
                    workspace_id=workspace.id, conversation_id=conversation.id, contact_id=contact.id, text=text,
                    channel=account.channel))
                await session.flush()
                recorded = (await session.execute(select(AssistantDecision).where(
                    AssistantDecision.conversation_id == conversation.id))).scalar_one()
                audit = {"scores": dict(recorded.scores), "model_version": recorded.model_version,
                         "policy_version": recorded.policy_version, "model_status": registry.status(workspace.id)}
            finally:
                await session.rollback()
    return {
        "message": text, "decision": decision.action, "rule": decision.rule, "intent": decision.intent,
        "confidence": decision.confidence, "language": decision.language, "sentiment": decision.sentiment,
        "handoff": asdict(decision.handoff) if decision.handoff else None,
        "replies": [{"text": r.text, **({"content": r.content} if r.content else {})} for r in decision.replies],
        **audit,
    }


async def run_story_file(settings: Settings, slug: str, path: Path) -> list[StoryOutcome]:
    """The stories of `path` against workspace `slug`, stepping the inbound and flow-action workers here
    (no server needs to run; if one does, its loops share the work)."""
    from touchpoint.background import BackgroundLoops

    stories = parse_stories(path.read_text(encoding="utf-8"))  # noqa: ASYNC240 (a small file, before any I/O)
    async with workspace_runtime(settings, slug) as (runtime, workspace_id):
        loops = BackgroundLoops(runtime, WorkspaceAssistant(EngineRegistry(settings)))
        workers = [step for name, step in loops.steps.items() if name != "outbox"]
        return await run_stories(runtime, workspace_id, stories, workers=workers)


async def train_workspace(settings: Settings, slug: str) -> dict[str, Any]:
    """Ask for a training of workspace `slug` and run it here; the resulting model version row."""
    from touchpoint.assistant.training import request_training
    from touchpoint.assistant.training_worker import TrainingWorker
    from touchpoint.background import worker_id
    from touchpoint.models import AssistantModel

    async with workspace_runtime(settings, slug) as (runtime, workspace_id):
        async with runtime.transaction() as session:
            await request_training(session, workspace_id, "asked from the command line")
        worker = TrainingWorker(runtime, worker_id())
        while await worker.run_once():
            pass
        async with runtime.sessionmaker() as session:
            row = (await session.execute(select(AssistantModel).where(AssistantModel.workspace_id == workspace_id)
                                         .order_by(AssistantModel.id.desc()).limit(1))).scalar_one()
            return {"version": row.version, "status": row.status, "active": row.is_active, "error": row.error,
                    "details": row.details}
