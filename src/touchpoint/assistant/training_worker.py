"""The background step that trains workspaces' understanding models, one request at a time.

A request is a Timer row of kind `assistant_train` (see training.request_training). The worker claims one in a
short transaction and records a `training` AssistantModel row (so the UI shows it), reads the intents in a
read-only session, trains and saves the version in a thread with no transaction open (training takes seconds to
minutes; SQLite has one writer), then in one transaction makes the version active, deactivates the previous one
and completes the request. A failure is recorded on the row (status `failed`, the reason) and the active version
keeps serving. A worker that dies mid-training leaves the request leased; another claims it when the lease runs
out, up to MAX_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select

from touchpoint.assistant.intents import repository
from touchpoint.assistant.intents.schemas import IntentSpec
from touchpoint.assistant.intents.service import settings_of, spec_of
from touchpoint.assistant.intents.yaml_io import builtin_intents
from touchpoint.assistant.training import (
    DEFAULT_ESCALATE,
    NO_ENCODER_WARNING,
    TRAIN_KIND,
    resolve_model_dir,
    store_root,
    train_model,
    training_intents,
)
from touchpoint.db import queue
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import AppError
from touchpoint.models import AssistantModel, Timer
from touchpoint.runtime import Runtime
from touchpoint.workspaces.audit import Actor, record_audit

log = logging.getLogger(__name__)
LEASE_SECONDS = 30 * 60  # longer than any training; a crashed worker's request is retried after it
MAX_ATTEMPTS = 3
HEARTBEAT_SECONDS = 5.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Job:
    timer_id: int
    workspace_id: int
    attempts: int
    row_id: int
    reason: str


class _LeaseLost(Exception):
    pass


class TrainingWorker:
    def __init__(self, runtime: Runtime, owner: str, *, heartbeat: Callable[[], None] | None = None,
                 builtins: Sequence[IntentSpec] | None = None, escalate: frozenset[str] = DEFAULT_ESCALATE) -> None:
        self.runtime = runtime
        self.owner = owner
        self.heartbeat = heartbeat  # called while a training runs, so health checks see the loop alive
        self.builtins = builtins  # None: the shipped built-in intents
        self.escalate = escalate
        self._thread: threading.Thread | None = None

    async def wait_idle(self, at_most: float) -> None:
        """Wait (at most `at_most` s) for a training cut short by a stop to finish its thread."""
        if self._thread is not None and self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, at_most)

    async def run_once(self) -> int:
        if not await self._due():
            return 0
        job = await self._claim()
        if job is None:
            return 0
        try:
            if job.attempts > MAX_ATTEMPTS:
                await self._fail(job, f"training did not finish in {MAX_ATTEMPTS} attempts (the process stopped or "
                                      "ran out of memory while training)")
                return 1
            try:
                version, details = await self._train(job)
            except AppError as exc:  # TrainingDataError, ModelLoadError, a model_dir outside the allowed root
                await self._fail(job, exc.message)
            except ImportError as exc:
                await self._fail(job, f"the nlu extra is not installed (pip install 'touchpoint[nlu]'): {exc}")
            except Exception as exc:
                log.exception("workspace %s: training failed", job.workspace_id)
                await self._fail(job, f"{exc.__class__.__name__}: {exc}")
            else:
                await self._finish(job, version, details)
        except _LeaseLost:
            log.warning("workspace %s: training request %s was taken over by another worker", job.workspace_id,
                        job.timer_id)
        return 1

    async def _due(self) -> bool:
        """A cheap read first: an idle loop must not take SQLite's write lock every poll."""
        now = utcnow()
        due = or_(and_(Timer.status == queue.PENDING, Timer.available_at <= now),
                  and_(Timer.status == queue.LEASED, Timer.lease_until < now))
        async with self.runtime.sessionmaker() as session:
            return (await session.execute(
                select(Timer.id).where(Timer.kind == TRAIN_KIND, due).limit(1))).first() is not None

    async def _claim(self) -> _Job | None:
        async with self.runtime.transaction() as session:
            timers = await queue.claim(session, Timer, owner=self.owner, now=utcnow(), lease_seconds=LEASE_SECONDS,
                                       limit=1, where=Timer.kind == TRAIN_KIND)
            if not timers:
                return None
            timer = timers[0]
            reason = str((timer.payload or {}).get("reason", ""))
            marker = f"training-{timer.id}"  # the row of this request, found again if a crashed try is re-claimed
            row = await repository.access_model(session, timer.workspace_id, marker)
            if row is None:
                row = AssistantModel(workspace_id=timer.workspace_id, version=marker, status="training",
                                     is_active=False, details={"reason": reason})
                session.add(row)
                await session.flush()
            return _Job(timer.id, timer.workspace_id, timer.attempts, row.id, reason)

    async def _train(self, job: _Job) -> tuple[str, dict[str, Any]]:
        async with self.runtime.sessionmaker() as session:
            rows = await repository.intents_of(session, job.workspace_id)
            workspace = await repository.access_workspace(session, job.workspace_id)
            own = [spec_of(row) for row in rows]
            model_dir_value = settings_of(workspace).model_dir if workspace is not None else None
        model_dir = resolve_model_dir(self.runtime.settings, model_dir_value) if model_dir_value else None
        builtins = builtin_intents() if self.builtins is None else self.builtins
        pairs = training_intents(own, builtins)
        root = store_root(self.runtime.settings, job.workspace_id)
        version, details = await self._in_thread(self._train_and_save, pairs, model_dir, root)
        own_names = {spec.name for spec in own}
        details.update(workspace_intents=len(own), reason=job.reason,
                       builtin_intents=sum(1 for name, _ in pairs if name not in own_names))
        return version, details

    def _train_and_save(self, pairs: list[tuple[str, list[str]]], model_dir: Path | None,
                        root: Path) -> tuple[str, dict[str, Any]]:
        from touchpoint.assistant.nlu import ModelStore, shared_encoder

        started = time.perf_counter()
        encoder = shared_encoder(model_dir)  # None without an installed model; ModelLoadError for a bad model_dir
        model = train_model(pairs, escalate=self.escalate, encoder=encoder)
        version = ModelStore(root).save(model, activate=True)
        details: dict[str, Any] = {
            **model.metrics, "encoder": model.encoder_id, "model_dir": str(model_dir) if model_dir else None,
            "oos_threshold": round(float(model.intents.oos_threshold), 4),
            "seconds": round(time.perf_counter() - started, 2),
        }
        if encoder is None:
            details["warning"] = NO_ENCODER_WARNING
        return version, details

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` in a daemon thread of its own, calling the heartbeat every few seconds while it runs.
        Not the loop's executor: a server stopping mid-training must not wait for the fit to finish (the lease
        runs out and the next start trains again), and the executor's threads are joined at shutdown."""
        loop = asyncio.get_running_loop()
        task: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if task.done():  # the waiter was cancelled (server stopping)
                return
            if error is not None:
                task.set_exception(error)
            else:
                task.set_result(result)

        def work() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the awaiting coroutine, whatever it is
                outcome: tuple[Any, BaseException | None] = (None, exc)
            else:
                outcome = (result, None)
            with contextlib.suppress(RuntimeError):  # the loop closed while we trained: nobody waits
                loop.call_soon_threadsafe(settle, *outcome)

        self._thread = threading.Thread(target=work, name="touchpoint-training", daemon=True)
        self._thread.start()
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
            if done:
                return task.result()
            if self.heartbeat is not None:
                self.heartbeat()

    async def _finish(self, job: _Job, version: str, details: dict[str, Any]) -> None:
        async with self.runtime.transaction() as session:
            stale = await repository.access_model(session, job.workspace_id, version)
            if stale is not None and stale.id != job.row_id:
                # The store was emptied (data_dir lost) while the database kept its rows: the name is reused.
                await session.delete(stale)
                await session.flush()
            await repository.deactivate_models(session, job.workspace_id)
            row = await session.get(AssistantModel, job.row_id, populate_existing=True)
            if row is not None:
                row.version, row.status, row.is_active, row.error = version, "ready", True, None
                row.details, row.finished_at = details, utcnow()
            if not await queue.complete(session, Timer, job.timer_id, owner=self.owner):
                raise _LeaseLost
            record_audit(session, workspace_id=job.workspace_id, actor=Actor.system(), action="assistant.model.ready",
                         subject_type="assistant_model", subject_id=job.row_id, version=version)
        log.info("workspace %s: assistant model %s trained in %.1f s (%s intents, %s)", job.workspace_id, version,
                 details.get("seconds", 0.0), details.get("intents"), details.get("encoder"))

    async def _fail(self, job: _Job, message: str) -> None:
        async with self.runtime.transaction() as session:
            row = await session.get(AssistantModel, job.row_id)
            if row is not None:
                row.version, row.status, row.is_active = f"failed-{job.timer_id}", "failed", False
                row.error, row.finished_at = message[:4000], utcnow()
            if not await queue.complete(session, Timer, job.timer_id, owner=self.owner, status=queue.FAILED,
                                        error=message[:4000]):
                raise _LeaseLost
        log.warning("workspace %s: assistant training failed, the active version keeps serving: %s",
                    job.workspace_id, message)
