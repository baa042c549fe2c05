"""Reading a claimed batch of messages ahead of their transaction (conversations/prereading.py and
assistant/understanding_batch.py): every message the bot answers gets the reading of its own text, messages people
own are not read, a failing read falls back to the assistant reading the message itself, and the batched
reading is the reading the engine gives one message at a time."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from touchpoint.assistant.base import AssistantInput, Decision, Handoff, Reply
from touchpoint.assistant.signals_builder import words_only
from touchpoint.assistant.understanding_batch import Preread
from touchpoint.channels.base import AccountContext, NormalizedEvent
from touchpoint.config import Settings
from touchpoint.conversations.inbound_worker import InboundWorker
from touchpoint.db.migrate import upgrade
from touchpoint.demo import ensure_demo
from touchpoint.models import InboundEvent, Workspace
from touchpoint.runtime import build_runtime
from touchpoint.webhooks.service import store_many
from touchpoint.workspaces import service as workspaces


class RecordingAssistant:
    """Answers every message with an echo, hands over when asked for a person, and records what it was given."""

    def __init__(self) -> None:
        self.reads: list[list[str]] = []
        self.seen: list[tuple[str, Any]] = []
        self.fail = False

    async def reader(self, session: Any, workspace_id: int) -> Any:
        def read(texts: list[str]) -> list[Preread]:
            if self.fail:
                raise RuntimeError("encoder broke")
            self.reads.append(list(texts))
            return [Preread(text, words_only(text), self) for text in texts]
        return read

    async def respond(self, session: Any, message: AssistantInput) -> Decision:
        self.seen.append((message.text, message.preread))
        if "person" in message.text:
            return Decision(handoff=Handoff("service", "asked for a person"), action="escalate", rule="human")
        return Decision(replies=(Reply(f"echo: {message.text}"),), rule="echo")


async def _setup(settings: Settings) -> tuple[Any, AccountContext]:
    runtime = build_runtime(settings)
    await upgrade(runtime.engine)
    async with runtime.transaction() as session:
        info = await ensure_demo(session, runtime.box)
        workspace = await session.get(Workspace, info.workspace_id)
        assert workspace is not None
        account = await workspaces.add_channel_account(
            session, runtime.box, workspace=workspace, channel="api", name="Brand",
            credentials={"secret": "s"}, settings={"outbound_url": "http://127.0.0.1:9/x"})
        context = AccountContext(account.id, account.workspace_id, account.key, {}, {})
    return runtime, context


async def _say(runtime: Any, context: AccountContext, *messages: tuple[str, str]) -> None:
    async with runtime.transaction() as session:
        await store_many(session, [(context, [
            NormalizedEvent(kind="message", provider_event_id=f"{sender}-{text}", sender_id=sender, text=text)
            for sender, text in messages])])


async def test_the_bot_gets_the_reading_of_each_message_and_messages_people_own_are_not_read(settings):
    runtime, context = await _setup(settings)
    assistant = RecordingAssistant()
    worker = InboundWorker(runtime, assistant, "test-worker")
    try:
        await _say(runtime, context, ("u1", "hello there"), ("u2", "please get me a person"), ("u3", "  spaced  "))
        assert await worker.run_once() == 3
        assert assistant.reads == [["hello there", "please get me a person", "spaced"]]
        assert [(text, p.text if p else None) for text, p in assistant.seen] == [
            ("hello there", "hello there"), ("please get me a person", "please get me a person"),
            ("  spaced  ", "spaced")]

        # u2's conversation is now queued for people: its message is neither read ahead nor answered.
        await _say(runtime, context, ("u2", "still waiting"), ("u1", "one more"))
        assert await worker.run_once() == 2
        assert assistant.reads[-1] == ["one more"]
        assert [text for text, _ in assistant.seen[3:]] == ["one more"]

        # A read that fails leaves the reading to the assistant; the message is processed all the same.
        assistant.fail = True
        await _say(runtime, context, ("u1", "and again"))
        assert await worker.run_once() == 1
        assert assistant.seen[-1] == ("and again", None)
        async with runtime.sessionmaker() as session:
            statuses = (await session.execute(select(InboundEvent.status))).scalars().all()
        assert statuses and set(statuses) == {"done"}
    finally:
        await runtime.close()


async def test_without_a_reader_nothing_is_read_ahead(settings):
    runtime, context = await _setup(settings)

    class Plain:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        async def respond(self, session: Any, message: AssistantInput) -> Decision:
            self.seen.append(message.preread)
            return Decision(replies=(Reply("hi"),), rule="plain")

    assistant = Plain()
    try:
        await _say(runtime, context, ("u1", "hello"), ("u2", "hi"))
        assert await InboundWorker(runtime, assistant, "w").run_once() == 2
        assert assistant.seen == [None, None]
    finally:
        await runtime.close()


class _Registry:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def engine_for(self, session: Any, workspace_id: int) -> Any:
        return self.engine


async def test_the_assistant_uses_a_reading_only_from_the_engine_serving_now_and_for_the_same_text():
    from touchpoint.assistant.orchestrator import WorkspaceAssistant

    calls: list[str] = []

    def understand(text: str) -> Any:
        calls.append(text)
        return SimpleNamespace(intent=SimpleNamespace(intent="x", best_intent="x", confidence=0.9, out_of_scope=False),
                               escalation=None, language=SimpleNamespace(code="en", reliable=True),
                               model_version="v2")

    engine = SimpleNamespace(understand=understand, intents=SimpleNamespace(encoder="enc"))
    assistant = WorkspaceAssistant(_Registry(engine))  # type: ignore[arg-type]
    workspace = SimpleNamespace(id=1)
    ahead = Preread("hello", words_only("hello"), engine, query_vector="vec")
    understood, encoder, vector = await assistant._understand(None, workspace, "hello", ahead)  # type: ignore[arg-type]
    assert (understood, encoder, vector, calls) == (ahead.understood, "enc", "vec", [])
    # Made by another engine (a retrain was swapped in meanwhile), or for other text: read again.
    for stale in (Preread("hello", words_only("hello"), object()), Preread("other", words_only("other"), engine)):
        understood, _, vector = await assistant._understand(None, workspace, "hello", stale)  # type: ignore[arg-type]
        assert understood.model_version == "v2" and vector is None
    assert calls == ["hello", "hello"]


@pytest.fixture(scope="module")
def engine():
    for module in ("numpy", "scipy", "onnxruntime", "tokenizers", "fasttext"):
        pytest.importorskip(module, reason="the nlu extra is not installed")
    from tests.assistant.samples import intent_examples
    from touchpoint.assistant.nlu.classifier import IntentClassifier
    from touchpoint.assistant.nlu.encoders import bundled_model_files, load_encoder
    from touchpoint.assistant.nlu.engine import NluEngine
    from touchpoint.assistant.nlu.escalation import EscalationScorer
    from touchpoint.assistant.nlu.store import NluModel

    if bundled_model_files() is None:
        pytest.skip("the bundled MiniLM model is not installed")
    encoder = load_encoder()
    texts, labels = intent_examples()
    escalation = EscalationScorer(encoder).fit([*texts, "let me speak to a human", "this is a disgrace"],
                                               labels + ["escalate"] * 2, frozenset({"escalate"}))
    return NluEngine(NluModel(IntentClassifier(encoder).fit(texts, labels), escalation, version="v0003"),
                     languages=("en", "es"))


MESSAGES = ["Is there parking at the hotel?", "i've asked three times, can someone call me??", "",
            "wifi?? ¿contraseña?",
            "Hola, necesito cancelar mi reserva por favor", "x" * 5000, "what time is breakfast", "😀😀", "ok",
            "My card was charged twice for the same booking and I want my money back today"]


def test_reading_many_at_once_gives_what_the_engine_gives_one_at_a_time(engine):
    from touchpoint.assistant.knowledge.retrieval import clean_query
    from touchpoint.assistant.knowledge.semantic import encode_query
    from touchpoint.assistant.understanding_batch import preread, understand_many

    batched = understand_many(engine, MESSAGES)
    for text, (many, vector) in zip(MESSAGES, batched, strict=True):
        one = engine.understand(text)
        assert (many.intent.intent, many.intent.best_intent, many.intent.out_of_scope) == \
            (one.intent.intent, one.intent.best_intent, one.intent.out_of_scope)
        assert many.intent.confidence == pytest.approx(one.intent.confidence, abs=1e-4)
        assert many.escalation.probability == pytest.approx(one.escalation.probability, abs=1e-4)
        assert many.escalation.escalate == one.escalation.escalate
        assert many.language == one.language and many.model_version == "v0003"
        assert vector.shape == (engine.intents.encoder.dim,)
    for item in preread(engine, MESSAGES):
        assert item.engine is engine
        if item.query_vector is not None and clean_query(item.text):  # the knowledge base would embed the same
            expected = encode_query(engine.intents.encoder, clean_query(item.text))
            assert float(item.query_vector @ expected) > 0.9999
    assert understand_many(engine, []) == []
