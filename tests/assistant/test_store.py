from __future__ import annotations

import json

import numpy as np
import pytest

from tests.assistant.samples import intent_examples
from touchpoint.assistant.nlu.classifier import IntentClassifier
from touchpoint.assistant.nlu.errors import ModelLoadError, VersionNotFound
from touchpoint.assistant.nlu.escalation import EscalationScorer
from touchpoint.assistant.nlu.store import ModelStore, NluModel

PROBES = ["where can I park", "cancel my stay please", "is there wifi", "🙂", ""]


def _model(encoder, drop: str | None = None) -> NluModel:
    texts, labels = intent_examples()
    keep = [i for i, label in enumerate(labels) if label != drop]
    intents = IntentClassifier(encoder).fit([texts[i] for i in keep], [labels[i] for i in keep])
    escalation = EscalationScorer(encoder).fit(
        [*texts, "i want to speak to a person", "this is unacceptable", "you charged me twice"],
        labels + ["escalate"] * 3, frozenset({"escalate"}))
    return NluModel(intents, escalation, {"accuracy": 99.0})


def test_save_load_and_rollback(encoder, tmp_path):
    store = ModelStore(tmp_path)
    first = _model(encoder, drop="wifi")
    v1 = store.save(first)
    second = _model(encoder)
    v2 = store.save(second)
    assert (v1, v2) == ("v0001", "v0002") and store.versions() == [v1, v2] and store.current() == v2

    manifest = store.manifest(v2)
    assert manifest["version"] == v2 and manifest["created_at"] and manifest["metrics"] == {"accuracy": 99.0}
    assert manifest["encoder_id"] == encoder.encoder_id and "wifi" in manifest["intents"]
    assert "wifi" not in store.manifest(v1)["intents"]

    loaded = store.load(encoder)
    assert loaded.version == v2
    for probe in PROBES:
        a, b = second.intents.predict(probe), loaded.intents.predict(probe)
        assert a.best_intent == b.best_intent and a.out_of_scope == b.out_of_scope
        assert abs(a.confidence - b.confidence) < 1e-3
        assert abs(second.escalation.score(probe).probability - loaded.escalation.score(probe).probability) < 1e-3

    assert store.rollback() == v1 and store.current() == v1
    assert store.load(encoder).intents.intents == first.intents.intents
    with pytest.raises(VersionNotFound):
        store.rollback()  # v1 is the oldest
    store.activate(v2)
    assert store.load(encoder).version == v2


def test_load_refuses_another_encoder_and_corrupt_files(encoder, tmp_path):
    store = ModelStore(tmp_path)
    version = store.save(_model(encoder))
    with pytest.raises(ModelLoadError, match="trained with encoder"):
        store.load(None)
    with pytest.raises(VersionNotFound):
        store.load(encoder, "v0099")
    with pytest.raises(VersionNotFound):
        store.load(encoder, "../v0001")
    arrays = tmp_path / "versions" / version / "intents.npz"
    arrays.write_bytes(arrays.read_bytes()[:200])
    with pytest.raises(ModelLoadError):
        store.load(encoder)
    manifest = tmp_path / "versions" / version / "manifest.json"
    manifest.write_text("{broken")
    with pytest.raises(ModelLoadError, match="manifest"):
        store.load(encoder)


def test_arrays_hold_no_pickled_objects(encoder, tmp_path):
    store = ModelStore(tmp_path)
    version = store.save(_model(encoder))
    for name in ("intents.npz", "escalation.npz"):
        with np.load(tmp_path / "versions" / version / name, allow_pickle=False) as data:
            assert all(data[key].dtype != object for key in data.files)
    json.loads((tmp_path / "versions" / version / "manifest.json").read_text())


def test_ngram_only_model_round_trip(tmp_path):
    texts, labels = intent_examples()
    model = NluModel(IntentClassifier(None).fit(texts, labels),
                     EscalationScorer(None).fit([*texts, "get me a human"], [*labels, "escalate"],
                                                frozenset({"escalate"})))
    store = ModelStore(tmp_path)
    store.save(model)
    loaded = store.load(None)
    assert loaded.encoder_id == "ngrams-only"
    for probe in PROBES:
        assert loaded.intents.predict(probe).best_intent == model.intents.predict(probe).best_intent
        assert loaded.escalation.score(probe).escalate == model.escalation.score(probe).escalate
