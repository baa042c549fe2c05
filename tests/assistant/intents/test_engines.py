"""The engine registry without a trained model, without the nlu extra, and the workspace's languages."""

from __future__ import annotations

import logging

from tests.api.support import api_for
from tests.assistant.intents.conftest import create_hotel_intents, train_now
from tests.support.harness import running
from touchpoint.assistant import engines
from touchpoint.assistant.engines import EngineRegistry, languages_for
from touchpoint.assistant.training import NO_MODEL_WARNING
from touchpoint.models import Workspace


async def test_no_trained_version_means_no_engine_and_one_plain_warning(settings, caplog):
    async with running(settings, run_background=False) as h:
        registry = EngineRegistry(settings, check_seconds=0)
        with caplog.at_level(logging.WARNING, logger="touchpoint.assistant.engines"):
            for _ in range(3):
                async with h.runtime.sessionmaker() as session:
                    assert await registry.engine_for(session, h.workspace_id) is None
        warnings = [r.getMessage() for r in caplog.records if r.name == "touchpoint.assistant.engines"]
        assert len(warnings) == 1 and NO_MODEL_WARNING in warnings[0]
        assert NO_MODEL_WARNING == ("assistant running without a trained understanding model: lexical fallback, "
                                    "lower accuracy")
        assert registry.status(h.workspace_id)["warning"] == NO_MODEL_WARNING
        assert registry.status(h.workspace_id)["version"] is None


async def test_without_the_nlu_extra_the_registry_answers_none(settings, small_builtins, encoder, monkeypatch):
    async with running(settings, run_background=False) as h:
        await create_hotel_intents(await api_for(h))
        await train_now(h)

        def missing(*_args, **_kwargs):
            raise ImportError("No module named 'numpy'")

        monkeypatch.setattr(engines, "load_engine", missing)
        registry = EngineRegistry(settings, check_seconds=0)
        for _ in range(2):
            async with h.runtime.sessionmaker() as session:
                assert await registry.engine_for(session, h.workspace_id) is None
        status = registry.status(h.workspace_id)
        assert status["warning"] == NO_MODEL_WARNING and "nlu extra" in status["error"]


async def test_checks_are_rate_limited_per_workspace(settings, small_builtins, encoder):
    async with running(settings, run_background=False) as h:
        registry = EngineRegistry(settings, check_seconds=3600)
        async with h.runtime.sessionmaker() as session:
            assert await registry.engine_for(session, h.workspace_id) is None
        await create_hotel_intents(await api_for(h))
        await train_now(h)
        async with h.runtime.sessionmaker() as session:  # within the check interval: the cached answer
            assert await registry.engine_for(session, h.workspace_id) is None
        registry.check_seconds = 0
        async with h.runtime.sessionmaker() as session:  # first load of a workspace is awaited
            engine = await registry.engine_for(session, h.workspace_id)
        assert engine is not None and engine.model.version == "v0001"


def test_languages_for_reads_workspace_settings_leniently():
    assert languages_for(Workspace(settings={"assistant": {"languages": ["en", "es", "en", "EN", 3, "pt"]}})) == (
        "en", "es", "pt")
    assert languages_for(Workspace(settings={"assistant": {"languages": "en"}})) == ()
    assert languages_for(Workspace(settings={})) == ()
    assert languages_for(None) == ()
