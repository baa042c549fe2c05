from __future__ import annotations

import pytest

from tests.assistant.samples import intent_examples
from touchpoint.assistant.nlu import datasets as ds
from touchpoint.assistant.nlu.classifier import IntentClassifier
from touchpoint.assistant.nlu.errors import TrainingDataError

PARAPHRASES = {
    "check_in_time": "at what time can I get into the room",
    "parking": "where do I leave the car",
    "breakfast": "when is the morning meal",
    "wifi": "how can I get internet access",
    "cancel_booking": "I don't want the reservation anymore",
}
OUT_OF_SCOPE = ["what's the capital of australia", "recommend me a good horror film",
                "how do I repair a bicycle puncture"]


@pytest.fixture(scope="module")
def hotel_model(encoder):
    texts, labels = intent_examples()
    return IntentClassifier(encoder).fit(texts, labels, oos_reject_rate=0.1)


def test_paraphrases_get_their_intent(hotel_model):
    predictions = hotel_model.predict_many(list(PARAPHRASES.values()))
    assert [p.best_intent for p in predictions] == list(PARAPHRASES)
    for p in predictions:
        assert 0.0 < p.confidence <= 1.0 and p.ranking[0][0] == p.best_intent


def test_unrelated_messages_are_out_of_scope(hotel_model):
    for p in hotel_model.predict_many(OUT_OF_SCOPE):
        assert p.out_of_scope and p.intent is None, p
    inside = hotel_model.predict("is breakfast included in the price")
    assert not inside.out_of_scope and inside.intent == "breakfast"


def test_odd_input_never_crashes(hotel_model):
    for text in ["", "   ", "😀😀😀", "\x00\x01\x02", "a" * 100_000, "Wi-Fi?? 🙏 ¿dónde está el parking?"]:
        p = hotel_model.predict(text)
        assert p.best_intent in hotel_model.intents
    assert hotel_model.predict("").out_of_scope


def test_ngram_fallback_without_encoder_still_classifies():
    texts, labels = intent_examples()
    model = IntentClassifier(None).fit(texts, labels)
    assert model.featuriser_id == "ngrams-only"
    assert model.predict("what is the wifi password please").intent == "wifi"
    assert model.predict("where can I park").best_intent == "parking"


def test_training_data_must_have_two_intents(encoder):
    with pytest.raises(TrainingDataError):
        IntentClassifier(encoder).fit(["a", "b"], ["one", "one"])
    with pytest.raises(TrainingDataError):
        IntentClassifier(encoder).fit(["", "  "], ["one", "two"])


def test_banking77_subset_beats_a_floor(encoder, shared_nlu_data):
    """10 examples per intent from BANKING77, scored on 5 test messages per intent: the fused model must be far
    above chance (1.3%); the full benchmark lives in bench/nlu.py."""
    train_t, train_y = ds.few_shot(*ds.read_banking77(shared_nlu_data / "banking77", "train"), shots=10, seed=0)
    test_t, test_y = ds.few_shot(*ds.read_banking77(shared_nlu_data / "banking77", "test"), shots=5, seed=0)
    model = IntentClassifier(encoder).fit(train_t, train_y)
    correct = sum(p.best_intent == y for p, y in zip(model.predict_many(test_t), test_y, strict=True))
    assert correct / len(test_y) > 0.75
