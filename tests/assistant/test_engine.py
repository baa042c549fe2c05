from __future__ import annotations

import pytest

from tests.assistant.samples import intent_examples
from touchpoint.assistant.nlu import engine as engine_module
from touchpoint.assistant.nlu.classifier import IntentClassifier
from touchpoint.assistant.nlu.engine import NluEngine, shared_encoder
from touchpoint.assistant.nlu.errors import ModelLoadError
from touchpoint.assistant.nlu.escalation import EscalationScorer
from touchpoint.assistant.nlu.store import NluModel
from touchpoint.assistant.nlu.threads import blas_threads, set_blas_threads


@pytest.fixture(scope="module")
def engine(encoder):
    texts, labels = intent_examples()
    escalation = EscalationScorer(encoder).fit(
        [*texts, "let me speak to a human", "this is a disgrace", "you took my money twice", "call me back"],
        labels + ["escalate"] * 4, frozenset({"escalate"}))
    return NluEngine(NluModel(IntentClassifier(encoder).fit(texts, labels), escalation, version="v0007"),
                     languages=("en", "es"))


@pytest.mark.parametrize("text", ["", None, b"\xff\xfe\x00", "😀😀😀", "x" * 200_000, "wifi?? ¿contraseña del wifi?",
                                  "Hola, necesito cancelar mi reserva. Please cancel my booking."])
def test_understand_survives_odd_input(engine, text):
    result = engine.understand(text)
    assert result.model_version == "v0007"
    assert result.intent.best_intent in engine.intents.intents
    assert result.escalation is not None and 0.0 <= result.escalation.probability <= 1.0


def test_understand_combines_the_three_signals(engine):
    engine.warm_up()
    result = engine.understand("Is there parking at the hotel?")
    assert result.intent.intent == "parking" and not result.escalation.escalate and result.language.code == "en"
    angry = engine.understand("i've asked three times, can someone call me??")
    assert angry.escalation.escalate and "human_request" in angry.escalation.reasons


def test_shared_encoder_is_loaded_once_and_bad_directories_are_not_cached(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "_encoders", {})
    assert shared_encoder() is shared_encoder()
    for _ in range(2):
        with pytest.raises(ModelLoadError):
            shared_encoder(tmp_path / "missing")


def test_engine_uses_the_classifier_views_it_was_trained_with(engine):
    text = "where can I leave my car"
    understood = engine.understand(text)
    direct = engine.intents.predict(text)
    assert understood.intent.best_intent == direct.best_intent == "parking"
    assert abs(understood.intent.confidence - direct.confidence) < 1e-4
    assert 0.0 <= understood.intent.uncertainty <= 1.0


def test_blas_thread_count_can_be_set_at_run_time():
    before = blas_threads()
    if not before:
        pytest.skip("no OpenBLAS loaded that exposes its thread count")
    try:
        assert set_blas_threads(1) == len(before) and blas_threads() == [1] * len(before)
    finally:
        for count in set(before):
            set_blas_threads(count)
