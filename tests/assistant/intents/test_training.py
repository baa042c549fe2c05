"""Training through the worker: versions, rollback, failures that leave the active version serving, a workspace's
own model directory, and the path without an embedding model."""

from __future__ import annotations

import os
from datetime import timedelta

from tests.api.support import api_for, audit_entries
from tests.assistant.intents.conftest import create_hotel_intents, model_rows, pending_trainings, train_now
from tests.support.harness import running
from tests.support.servers import eventually
from touchpoint.assistant.engines import EngineRegistry
from touchpoint.assistant.nlu import ModelStore
from touchpoint.assistant.nlu.encoders import BUNDLED_MODEL_ID, bundled_model_files
from touchpoint.assistant.training import NO_ENCODER_WARNING, models_root, store_root
from touchpoint.assistant.training_worker import MAX_ATTEMPTS
from touchpoint.kit.clock import utcnow
from touchpoint.models import Timer, Workspace


async def _engine(h, registry: EngineRegistry):
    async with h.runtime.sessionmaker() as session:
        return await registry.engine_for(session, h.workspace_id)


def _active(rows) -> list[str]:
    return [r.version for r in rows if r.is_active]


async def test_train_retrain_rollback_and_activate(settings, small_builtins, encoder):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        await create_hotel_intents(api)
        assert await train_now(h) == 1
        [v1] = await model_rows(h)
        assert (v1.version, v1.status, v1.is_active, v1.error) == ("v0001", "ready", True, None)
        assert v1.details["workspace_intents"] == 2 and v1.details["builtin_intents"] == 3
        assert v1.details["intents"] == 5 and v1.details["examples"] == 20
        assert v1.details["encoder"] == BUNDLED_MODEL_ID and "warning" not in v1.details
        assert v1.details["escalating_intents"] == ["complaint", "human_request"]

        registry = EngineRegistry(settings, check_seconds=0)
        engine = await _engine(h, registry)
        assert engine is not None and engine.model.version == "v0001"
        assert engine.understand("where can I leave my car overnight?").intent.intent == "parking"
        assert engine.understand("get me a real person now").escalation.escalate
        assert registry.status(h.workspace_id) == {"version": "v0001", "encoder": BUNDLED_MODEL_ID, "warning": None,
                                                   "loading": None}

        changed = await api.patch("/assistant/intents/parking", {"examples": [
            "is there parking", "where can i park my car", "do you have a garage", "is parking free for guests"]})
        assert changed.status_code == 200
        assert await train_now(h) == 1
        assert _active(await model_rows(h)) == ["v0002"]
        # the new version loads in the background; the old one answers meanwhile
        assert (await _engine(h, registry)).model.version == "v0001"
        await registry.settle()
        assert (await _engine(h, registry)).model.version == "v0002"

        listed = (await api.get("/assistant/models")).json()
        assert [(m["version"], m["status"], m["is_active"]) for m in listed["data"]] == [
            ("v0002", "ready", True), ("v0001", "ready", False)]
        assert listed["training_pending"] is False

        rolled = await api.post("/assistant/models/rollback")
        assert rolled.status_code == 200, rolled.text
        assert rolled.json()["version"] == "v0001" and rolled.json()["is_active"] is True
        assert _active(await model_rows(h)) == ["v0001"]
        assert ModelStore(store_root(settings, h.workspace_id)).current() == "v0001"
        await _engine(h, registry)
        await registry.settle()
        assert (await _engine(h, registry)).model.version == "v0001"
        again = await api.post("/assistant/models/rollback")
        assert again.status_code == 409 and again.json()["error"]["code"] == "no_previous_model"

        assert (await api.post("/assistant/models/v0002/activate")).json()["is_active"] is True
        assert _active(await model_rows(h)) == ["v0002"]
        assert (await api.post("/assistant/models/v0042/activate")).status_code == 404
        assert [e.details["version"] for e in await audit_entries(h, "assistant.model.rollback")] == ["v0001"]


async def test_train_endpoint_and_background_loop(settings, small_builtins, encoder):
    training_on = settings.model_copy(update={"assistant_training": True})
    async with running(training_on) as h:  # the real background loops, with the training step
        api = await api_for(h)
        await create_hotel_intents(api)
        requested = await api.post("/assistant/train")
        assert requested.status_code == 202

        async def ready():
            data = (await api.get("/assistant/models")).json()
            return not data["training_pending"] and [m for m in data["data"] if m["status"] == "ready"]

        models = await eventually(ready, timeout=60)
        assert models[0]["is_active"] and models[0]["details"]["workspace_intents"] == 2


async def test_failures_are_recorded_and_the_active_version_keeps_serving(settings, small_builtins, encoder):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        await create_hotel_intents(api)
        await train_now(h)
        registry = EngineRegistry(settings, check_seconds=0)
        assert (await _engine(h, registry)).model.version == "v0001"

        # The workspace's model directory is broken after it was accepted (a disk was swapped, a file truncated).
        broken = models_root(settings) / "broken"
        broken.mkdir(parents=True)
        (broken / "model.onnx").write_bytes(b"\x08\x01garbage that is not a protobuf")
        (broken / "tokenizer.json").write_text("{}")
        async with h.runtime.transaction() as session:
            workspace = await session.get(Workspace, h.workspace_id)
            workspace.settings = {**workspace.settings, "assistant": {"model_dir": "broken"}}
        assert (await api.post("/assistant/train")).json() == {"requested": True}
        assert await train_now(h) == 1
        rows = await model_rows(h)
        assert [(r.status, r.is_active) for r in rows] == [("ready", True), ("failed", False)]
        assert rows[1].version.startswith("failed-") and "cannot" in rows[1].error and "broken" in rows[1].error
        listed = (await api.get("/assistant/models")).json()["data"]
        assert listed[0]["status"] == "failed" and listed[0]["error"] == rows[1].error
        engine = await _engine(h, registry)
        assert engine.model.version == "v0001"
        assert engine.understand("when are you open on sunday").intent.intent == "opening_hours"
        activate_failed = await api.post(f"/assistant/models/{rows[1].version}/activate")
        assert activate_failed.status_code == 409 and activate_failed.json()["error"]["code"] == "model_not_ready"

        # Data no model can be made of: one intent and no built-ins.
        async with h.runtime.transaction() as session:
            workspace = await session.get(Workspace, h.workspace_id)
            workspace.settings = {**workspace.settings, "assistant": {}}
        await api.h.client.delete(f"{h.base_url}/api/v1/assistant/intents/parking", headers=api.headers())
        assert await train_now(h, builtins=()) == 1
        rows = await model_rows(h)
        assert rows[-1].status == "failed" and "at least two intents" in rows[-1].error
        assert _active(rows) == ["v0001"]


async def test_a_training_that_keeps_crashing_is_given_up(settings, small_builtins):
    async with running(settings, run_background=False) as h:
        async with h.runtime.transaction() as session:
            session.add(Timer(workspace_id=h.workspace_id, kind="assistant_train", subject_id=h.workspace_id,
                              lane=f"train:{h.workspace_id}", status="leased", attempts=MAX_ATTEMPTS,
                              lease_owner="dead-worker", lease_until=utcnow() - timedelta(seconds=1)))
        assert await train_now(h) == 1
        [row] = await model_rows(h)
        assert row.status == "failed" and f"did not finish in {MAX_ATTEMPTS} attempts" in row.error
        assert await pending_trainings(h) == 0


async def test_a_corrupt_version_is_not_activated_and_not_served(settings, small_builtins, encoder):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        await create_hotel_intents(api)
        await train_now(h)
        registry = EngineRegistry(settings, check_seconds=0)
        assert (await _engine(h, registry)).model.version == "v0001"
        await api.post("/assistant/train")
        await train_now(h)
        (store_root(settings, h.workspace_id) / "versions" / "v0002" / "intents.npz").write_bytes(b"not a zip")
        # the registry tries v0002 in the background, fails, and keeps v0001
        await _engine(h, registry)
        await registry.settle()
        assert (await _engine(h, registry)).model.version == "v0001"
        status = registry.status(h.workspace_id)
        assert status["version"] == "v0001" and "v0002 could not be loaded" in status["error"]
        # an operator cannot switch to it either
        assert (await api.post("/assistant/models/rollback")).status_code == 200
        refused = await api.post("/assistant/models/v0002/activate")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "model_invalid"
        assert _active(await model_rows(h)) == ["v0001"]


async def test_settings_and_the_workspace_model_dir(settings, small_builtins, encoder):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        url = f"{h.base_url}/api/v1/assistant/settings"

        async def put(body):
            return await h.client.put(url, json=body, headers=api.headers())

        assert (await api.get("/assistant/settings")).json() == {"languages": ["en"], "model_dir": None}  # the demo
        ok = await put({"languages": ["en", "es", "en"]})
        assert ok.status_code == 200 and ok.json() == {"languages": ["en", "es"], "model_dir": None}
        assert (await put({"languages": ["english"]})).status_code == 422
        assert await pending_trainings(h) == 0  # languages do not change the model

        root = models_root(settings)
        broken = root / "broken"
        broken.mkdir(parents=True)
        (broken / "model.onnx").write_bytes(b"garbage")
        (broken / "tokenizer.json").write_text("{}")
        (root / "half").mkdir()
        (root / "half" / "model.onnx").write_bytes(b"x")
        for model_dir, code, reason in [
            ("missing", "nlu_model_invalid", "does not exist"),
            ("half", "nlu_model_invalid", "neither tokenizer.json nor vocab.txt"),
            ("broken", "nlu_model_invalid", "cannot"),
            ("/etc", "model_dir_not_allowed", "must be a directory inside"),
            ("../../etc", "model_dir_not_allowed", "must be a directory inside"),
        ]:
            refused = await put({"languages": ["pt"], "model_dir": model_dir})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == code and reason in refused.json()["error"]["message"]
        assert (await api.get("/assistant/settings")).json() == {"languages": ["en", "es"], "model_dir": None}
        assert await pending_trainings(h) == 0

        # The operator links a model into <data_dir>/models; the workspace points at it and is retrained with it.
        files = bundled_model_files()
        mine = root / "mine"
        mine.mkdir()
        os.symlink(files.model, mine / "model.onnx")
        os.symlink(files.tokenizer, mine / "tokenizer.json")
        await create_hotel_intents(api)
        await train_now(h)
        accepted = await put({"languages": ["en"], "model_dir": "mine"})
        assert accepted.status_code == 200, accepted.text
        assert await pending_trainings(h) == 1
        await train_now(h)
        rows = await model_rows(h)
        assert rows[-1].status == "ready" and rows[-1].details["encoder"].startswith("onnx:")
        assert rows[-1].details["model_dir"] == str(mine)
        engine = await _engine(h, EngineRegistry(settings, check_seconds=0))
        assert engine.model.version == "v0002" and engine.languages == ("en",)
        assert engine.understand("is there anywhere to park?").intent.intent == "parking"


async def test_without_an_embedding_model_training_works_with_a_warning(settings, small_builtins, monkeypatch):
    import touchpoint.assistant.nlu as nlu

    monkeypatch.setattr(nlu, "shared_encoder", lambda model_dir=None: None)
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        await create_hotel_intents(api)
        await train_now(h)
        [row] = await model_rows(h)
        assert row.status == "ready" and row.details["encoder"] == "ngrams-only"
        assert row.details["warning"] == NO_ENCODER_WARNING == "no embedding model installed; lower accuracy"
        registry = EngineRegistry(settings, check_seconds=0)
        engine = await _engine(h, registry)
        assert engine.model.intents.encoder is None
        assert engine.understand("where can i park my car please").intent.best_intent == "parking"
        assert registry.status(h.workspace_id)["warning"] == NO_ENCODER_WARNING
        assert (await api.post("/assistant/models/rollback")).status_code == 409  # one version: nothing before it
