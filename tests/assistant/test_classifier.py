from __future__ import annotations

import numpy as np
import pytest

from tests.assistant.samples import intent_examples
from touchpoint.assistant.nlu import datasets as ds
from touchpoint.assistant.nlu import oos
from touchpoint.assistant.nlu.classifier import FEW_SHOT, FULL, IntentClassifier, intent_name_text
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
    model = IntentClassifier(encoder).fit(train_t, train_y, calibrate=False)  # out of scope is tested elsewhere
    assert model.fusion is FEW_SHOT and model._label_emb.shape == (77, encoder.dim) and len(model._idf_ids)
    correct = sum(p.best_intent == y for p, y in zip(model.predict_many(test_t), test_y, strict=True))
    assert correct / len(test_y) > 0.75


def test_out_of_scope_thresholds_are_calibrated_on_held_out_training_examples(hotel_model, encoder):
    calibration = hotel_model.meta["oos_calibration"]
    # 20% of each intent's 8 examples, rounded: 2 x 5 intents, in each of three disjoint folds, pooled
    assert calibration["held_out"] == 2 * 5 * oos.FOLDS and calibration["folds"] == oos.FOLDS
    assert 0.0 < hotel_model.oos_threshold < 1.0 and -1.0 < hotel_model.similarity_threshold < 1.0
    p = hotel_model.predict("what's the capital of australia")
    assert p.out_of_scope and (p.uncertainty > hotel_model.oos_threshold
                               or p.similarity < hotel_model.similarity_threshold)
    texts, labels = intent_examples()
    uncalibrated = IntentClassifier(encoder).fit(texts, labels, calibrate=False)
    assert uncalibrated.meta["oos_calibration"] == {}
    assert not any(p.out_of_scope for p in uncalibrated.predict_many(OUT_OF_SCOPE))
    assert uncalibrated.predict("").out_of_scope


def test_views_and_thresholds_survive_state_round_trip(hotel_model, encoder):
    meta, arrays = hotel_model.state()
    assert meta["fusion"] == FEW_SHOT.name and "label_emb" in arrays and "idf_values" in arrays
    again = IntentClassifier.from_state(meta, arrays, encoder)
    probes = [*PARAPHRASES.values(), *OUT_OF_SCOPE]
    for a, b in zip(hotel_model.predict_many(probes), again.predict_many(probes), strict=True):
        assert (a.best_intent, a.out_of_scope) == (b.best_intent, b.out_of_scope)
        assert abs(a.confidence - b.confidence) < 1e-2 and abs(a.uncertainty - b.uncertainty) < 1e-2
    # A model saved before this version: no fusion name, one threshold that was on the similarity.
    old_meta = {k: v for k, v in meta.items() if k not in ("fusion", "similarity_threshold", "temperature")}
    old_meta["oos_threshold"] = 0.5
    old = IntentClassifier.from_state(old_meta, arrays, encoder)
    assert old.fusion is FULL and old.similarity_threshold == 0.5 and old.oos_threshold == 2.0


def test_rare_tokens_weigh_more_and_unseen_ones_most(hotel_model):
    ids = hotel_model._idf_ids
    common, rare = ids[np.argmin(hotel_model._idf_values)], ids[np.argmax(hotel_model._idf_values)]
    weights = hotel_model._token_weights(np.asarray([common, rare, 10**9]), 3)
    assert weights[0] < weights[1] < weights[2] == pytest.approx(hotel_model._idf_unseen)
    assert hotel_model._token_weights(np.asarray([common]), 2) is None  # misaligned ids are not trusted


def test_uncertainty_and_temperature():
    assert oos.uncertainty(np.asarray([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])) == pytest.approx([0.0, 1.0], abs=1e-4)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 400)
    # Always 99% sure, right 60% of the time: over-confident, so the fitted temperature softens it.
    guess = np.where(rng.random(400) < 0.6, truth, (truth + 1) % 4)
    probs = np.full((400, 4), 0.01 / 3)
    probs[np.arange(400), guess] = 0.99
    temperature = oos.fit_temperature(probs, truth)
    assert temperature > 1.5 and oos.soften(probs, temperature).max(axis=1).mean() < 0.8
    assert oos.fit_temperature(probs[:10], truth[:10]) == 1.0  # too few examples to say


def test_intent_names_become_text():
    assert intent_name_text("card_payment_not_recognised") == "card payment not recognised"
    assert intent_name_text("reverted_card_payment?") == "reverted card payment"
    assert intent_name_text("bitext:contact_human_agent") == "bitext contact human agent"


def test_holdout_folds_are_disjoint_and_never_take_a_whole_intent():
    labels = ["a"] * 10 + ["b"] * 2 + ["c"] + ["d"] * 5
    folds = oos.holdout_folds(labels, folds=3, share=0.2, seed=1)
    assert len(folds) == 3
    flat = [i for fold in folds for i in fold]
    assert len(flat) == len(set(flat))  # disjoint: pooled, no example counts twice
    assert 12 not in flat  # "c" has one example: it is never held out
    for fold in folds:
        for label in set(labels):
            # every proxy keeps at least one example of every intent
            assert any(lab == label for i, lab in enumerate(labels) if i not in fold)
    assert [sum(labels[i] == "a" for i in fold) for fold in folds] == [2, 2, 2]
    assert [sum(labels[i] == "b" for i in fold) for fold in folds] == [1, 1, 0]  # two examples: two folds only


def test_few_shot_models_learn_the_intent_names_as_examples(hotel_model, encoder):
    texts, labels = intent_examples()
    assert hotel_model.fusion is FEW_SHOT
    assert len(hotel_model._labels) == len(texts) + len(set(labels))
    named = IntentClassifier(encoder).fit(texts, labels, calibrate=False, fusion=FULL)
    assert len(named._labels) == len(texts)  # many examples per intent: the names add nothing measured
    # calibration holds out given examples only, never a name
    assert hotel_model.meta["oos_calibration"]["held_out"] == 2 * 5 * oos.FOLDS
