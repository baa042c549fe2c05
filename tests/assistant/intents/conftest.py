"""Fixtures for intents, training and the engine registry: a tiny built-in set so every training takes a second,
and helpers to drive the training worker by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.api.support import Api
from touchpoint.assistant.intents.schemas import IntentSpec
from touchpoint.assistant.training_worker import TrainingWorker
from touchpoint.models import AssistantModel, Timer

# Stand-ins for the shipped built-ins (which take ~10 s to train on a loaded 2-core machine): same names for the
# escalating intents, a handful of examples each.
SMALL_BUILTINS: tuple[IntentSpec, ...] = (
    IntentSpec("greeting", ("hi", "hello", "good morning", "hey there")),
    IntentSpec("human_request", ("can someone call me back", "i want to talk to a person", "get me an agent",
                                 "let me speak with a human")),
    IntentSpec("complaint", ("this is unacceptable", "i am really unhappy with your service",
                             "nobody answers my emails", "worst experience ever")),
)

HOTEL_INTENTS = [
    {"name": "opening_hours", "examples": ["when are you open", "what are your opening hours",
                                           "are you open on sunday", "what time do you close tonight"],
     "response": "We are open 9-18."},
    {"name": "parking", "examples": ["is there parking", "where can i park my car", "do you have a car park",
                                     "how much is parking per night"]},
]


@pytest.fixture(autouse=True)
def demo_without_intents(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count intents, examples and trainings: the demo workspace starts without its own intents
    and without asking for a first training."""
    from touchpoint import demo

    async def no_training(*_args: object, **_kwargs: object) -> bool:
        return False

    monkeypatch.setattr(demo, "parse_intents_yaml", lambda _source: [])
    monkeypatch.setattr(demo, "request_training", no_training)


@pytest.fixture
def small_builtins(monkeypatch: pytest.MonkeyPatch) -> tuple[IntentSpec, ...]:
    """Every training in the test (the background loop's too) uses SMALL_BUILTINS."""
    from touchpoint.assistant import training_worker

    monkeypatch.setattr(training_worker, "builtin_intents", lambda: SMALL_BUILTINS)
    return SMALL_BUILTINS


def worker_for(h, builtins: tuple[IntentSpec, ...] = SMALL_BUILTINS) -> TrainingWorker:
    return TrainingWorker(h.runtime, "tests-worker", builtins=builtins)


async def train_now(h, builtins: tuple[IntentSpec, ...] = SMALL_BUILTINS) -> int:
    """Run the training worker until no request is left; how many it handled."""
    worker, handled = worker_for(h, builtins), 0
    while await worker.run_once():
        handled += 1
    return handled


async def model_rows(h, workspace_id: int | None = None) -> list[AssistantModel]:
    async with h.runtime.sessionmaker() as session:
        return list((await session.execute(
            select(AssistantModel).where(AssistantModel.workspace_id == (workspace_id or h.workspace_id))
            .order_by(AssistantModel.id))).scalars())


async def pending_trainings(h, workspace_id: int | None = None) -> int:
    async with h.runtime.sessionmaker() as session:
        return len(list((await session.execute(
            select(Timer.id).where(Timer.kind == "assistant_train", Timer.status == "pending",
                                   Timer.workspace_id == (workspace_id or h.workspace_id)))).scalars()))


async def create_hotel_intents(api: Api) -> None:
    for body in HOTEL_INTENTS:
        response = await api.post("/assistant/intents", body)
        assert response.status_code == 201, response.text
