"""What a workspace's understanding model is trained on, the training itself, and asking for it.

`train_model` is pure CPU work (seconds to a minute): the training worker runs it in a thread, outside any
transaction. Everything that changes intents calls `request_training`, which adds one timer row per workspace
(lane `train:{id}`, so one training at a time per workspace; a request made while one runs waits behind it and
picks up the change). The heavy `nlu` extra is imported only when a model is actually trained or loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.intents.schemas import IntentSpec, example_key
from touchpoint.assistant.intents.yaml_io import builtin_intents
from touchpoint.config import Settings
from touchpoint.db import queue
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import AppError
from touchpoint.models import Timer
from touchpoint.runtime import wake_after_commit

if TYPE_CHECKING:
    from touchpoint.assistant.nlu import NluModel, SentenceEncoder

TRAIN_KIND = "assistant_train"
TRAIN_LOOP = "assistant_train"  # the BackgroundLoops step that runs TrainingWorker.run_once
DEFAULT_ESCALATE = frozenset({"human_request", "complaint", "payment_problem"})
NO_MODEL_WARNING = "assistant running without a trained understanding model: lexical fallback, lower accuracy"
NO_ENCODER_WARNING = "no embedding model installed; lower accuracy"
MODELS_SUBDIR = "models"


def store_root(settings: Settings, workspace_id: int) -> Path:
    """Where the workspace's model versions live (a ModelStore root)."""
    return Path(settings.data_dir) / "assistant" / str(workspace_id)


def models_root(settings: Settings) -> Path:
    """Where an operator puts (or links) workspaces' own embedding models."""
    return Path(settings.data_dir) / MODELS_SUBDIR


def resolve_model_dir(settings: Settings, value: str) -> Path:
    """The directory a workspace's `model_dir` setting names. It must lie inside `<data_dir>/models`: an API key
    must not be able to make the server open arbitrary paths. Symlinks placed there by the operator are
    followed (the check is on the path as written, normalised)."""
    root = Path(os.path.abspath(models_root(settings)))
    candidate = Path(os.path.normpath(root / value))  # an absolute `value` replaces root, then is checked
    if candidate != root and root in candidate.parents:
        return candidate
    raise AppError(f"model_dir must be a directory inside {root} (the operator puts or links workspace models "
                   f"there); {value!r} is outside it", code="model_dir_not_allowed", status_code=422)


def training_intents(workspace: Iterable[IntentSpec], builtins: Iterable[IntentSpec] | None = None,
                     ) -> list[tuple[str, list[str]]]:
    """The workspace's intents plus the built-ins it does not override by name. A built-in example the workspace
    also uses (for one of its own intents) is left out: the workspace's meaning wins."""
    own = list(workspace)
    names = {spec.name for spec in own}
    taken = {example_key(e) for spec in own for e in spec.examples}
    out = [(spec.name, list(spec.examples)) for spec in own]
    for spec in builtin_intents() if builtins is None else builtins:
        if spec.name in names:
            continue
        examples = [e for e in spec.examples if example_key(e) not in taken]
        if examples:
            out.append((spec.name, examples))
    return out


# Identical training data and encoder give an identical model: the last few are kept per process, so a
# retrain that changes nothing, or many workspaces on the same built-ins (and every test of the demo),
# costs one fit. Models are read-only once fitted; callers get a shallow copy to stamp their version on.
_TRAINED: OrderedDict[str, NluModel] = OrderedDict()
_TRAINED_LOCK = threading.Lock()
TRAINED_CACHE_SIZE = 4


def _training_key(intents: list[tuple[str, list[str]]], escalate: frozenset[str],
                  encoder: SentenceEncoder | None) -> str:
    encoder_id = getattr(encoder, "encoder_id", None) if encoder is not None else None
    blob = json.dumps([intents, sorted(escalate), encoder_id], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def train_model(intents: list[tuple[str, list[str]]], *, escalate: frozenset[str],
                encoder: SentenceEncoder | None) -> NluModel:
    """Fit the intent classifier and, when some intents escalate and others do not, the escalation scorer.
    Raises TrainingDataError for data no model can be made of. Pure CPU: call it in a thread."""
    key = _training_key(intents, escalate, encoder)
    with _TRAINED_LOCK:
        cached = _TRAINED.get(key)
        if cached is not None:
            _TRAINED.move_to_end(key)
            return dataclasses.replace(cached, metrics={**cached.metrics, "reused": True})
    model = _fit(intents, escalate=escalate, encoder=encoder)
    with _TRAINED_LOCK:
        _TRAINED[key] = model
        while len(_TRAINED) > TRAINED_CACHE_SIZE:
            _TRAINED.popitem(last=False)
    return dataclasses.replace(model)


def _fit(intents: list[tuple[str, list[str]]], *, escalate: frozenset[str],
         encoder: SentenceEncoder | None) -> NluModel:
    from touchpoint.assistant.nlu import EscalationScorer, IntentClassifier, NluModel, TrainingDataError

    texts = [text for _, examples in intents for text in examples]
    labels = [name for name, examples in intents for _ in examples]
    if not texts:
        raise TrainingDataError("there are no intents with examples to train on")
    started = time.perf_counter()
    classifier = IntentClassifier(encoder).fit(texts, labels)
    names = {name for name, _ in intents}
    escalating = frozenset(escalate & names)
    scorer = None
    if escalating and names - escalating:
        scorer = EscalationScorer(encoder).fit(texts, labels, escalating)
    metrics: dict[str, Any] = {
        "intents": len(names), "examples": len(texts), "escalating_intents": sorted(escalating),
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    return NluModel(classifier, scorer, metrics)


async def request_training(session: AsyncSession, workspace_id: int, reason: str) -> bool:
    """Ask for the workspace's model to be retrained once this transaction commits. False when a request is
    already waiting (it will see this change too: it reads the intents when it starts)."""
    waiting = (await session.execute(
        select(Timer.id).where(Timer.kind == TRAIN_KIND, Timer.subject_id == workspace_id,
                               Timer.workspace_id == workspace_id, Timer.status == queue.PENDING).limit(1)
    )).first()
    if waiting is not None:
        return False
    session.add(Timer(workspace_id=workspace_id, kind=TRAIN_KIND, subject_id=workspace_id,
                      lane=f"train:{workspace_id}", available_at=utcnow(), payload={"reason": reason[:200]}))
    wake_after_commit(session, TRAIN_LOOP)
    await session.flush()
    return True


async def training_pending(session: AsyncSession, workspace_id: int) -> bool:
    """A training request is waiting or running for the workspace."""
    return (await session.execute(
        select(Timer.id).where(Timer.kind == TRAIN_KIND, Timer.subject_id == workspace_id,
                               Timer.workspace_id == workspace_id, Timer.status.in_(queue.UNFINISHED)).limit(1)
    )).first() is not None
