from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from tests.assistant.samples import intent_examples
from touchpoint.assistant.nlu.linear import fit_softmax_regression
from touchpoint.assistant.nlu.ngrams import NgramFeaturiser, char_grams, word_grams
from touchpoint.assistant.nlu.text import MAX_CHARS, clean_text, letter_share


def test_clean_text_handles_odd_input():
    assert clean_text(None) == ""
    assert clean_text("") == ""
    assert clean_text(b"\xff\xfe caf\xc3\xa9") == "café"
    assert clean_text("a\x00b\x07c\u200bd") == "a b c d"
    assert clean_text("  many\n\n  spaces\t ") == "many spaces"
    assert clean_text("ﬁne") == "fine"  # NFKC folds the ligature
    assert len(clean_text("x" * 10_000_000)) == MAX_CHARS
    assert letter_share("😀😀") == 0.0
    assert letter_share("abc1") == 0.75


def test_analyzers():
    assert word_grams("Where's my PIN?") == ["where", "s", "my", "pin", "where s", "s my", "my pin"]
    assert char_grams("ab") == [" a", "ab", "b ", " ab", "ab ", " ab "]
    assert char_grams("") == [] and word_grams("😀") == []


def test_ngram_state_round_trip_and_single_rows_match_batches():
    texts, _ = intent_examples()
    featuriser = NgramFeaturiser().fit(texts)
    restored = NgramFeaturiser.from_state(featuriser.state())
    probes = ["is there parkng?", "WIFI PASSWORD", "", "😀", "totally unrelated words here"]
    batch = featuriser.transform(probes)
    assert sparse.issparse(batch) and batch.shape == (5, featuriser.dim)
    for i, probe in enumerate(probes):
        assert np.allclose(featuriser.transform([probe]).toarray(), batch[i].toarray(), atol=1e-6)
        assert np.allclose(restored.transform([probe]).toarray(), batch[i].toarray(), atol=1e-6)
    norms = np.sqrt(np.asarray(batch.multiply(batch).sum(axis=1))).ravel()
    assert abs(norms[1] - np.sqrt(2)) < 1e-5  # a word block and a character block, each of unit length
    assert norms[3] == 0.0  # no known n-gram: an empty row, not a crash
    # character n-grams make a typo still overlap with the right word
    typo, right = featuriser.transform(["parkng", "parking"]).toarray()
    assert float(typo @ right) > 0.3


def test_ngrams_match_scikit_learn_when_it_is_installed():
    text_module = pytest.importorskip("sklearn.feature_extraction.text")
    texts, _ = intent_examples()
    ours = NgramFeaturiser().fit(texts)
    words = text_module.TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    chars = text_module.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    words.fit(texts)
    chars.fit(texts)
    probes = ["Is there PARKING near the hotel?", "wifi keeps dropping!!", "x"]
    theirs = sparse.hstack([words.transform(probes), chars.transform(probes)]).toarray()
    assert ours.dim == theirs.shape[1]
    assert np.allclose(ours.transform(probes).toarray(), theirs, atol=1e-5)


def test_softmax_regression_separates_classes_and_respects_balance():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 3
    y = np.repeat([0, 1, 2], [60, 20, 20])
    x = centres[y] + rng.normal(size=(100, 3))
    weights, intercepts = fit_softmax_regression(x, y, 10.0)
    assert weights.shape == (3, 3) and intercepts.shape == (3,) and weights.flags["C_CONTIGUOUS"]
    assert ((x @ weights + intercepts).argmax(axis=1) == y).mean() > 0.9
    sparse_weights, _ = fit_softmax_regression(sparse.csr_matrix(x), y, 10.0)
    assert np.allclose(sparse_weights, weights, atol=1e-2)
    with pytest.raises(ValueError):
        fit_softmax_regression(x, np.where(y == 1, 2, y), 1.0)  # class 1 has no example


def test_sample_weights_move_the_fit():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    y[:10] = 1 - y[:10]  # ten mislabelled points...
    plain, plain_b = fit_softmax_regression(x, y, 10.0)
    weight = np.ones(200)
    weight[:10] = 50.0  # ...that count fifty times pull the boundary towards themselves
    heavy, heavy_b = fit_softmax_regression(x, y, 10.0, sample_weight=weight)
    fits = lambda w, b: ((x[:10] @ w + b).argmax(axis=1) == y[:10]).mean()  # noqa: E731
    assert fits(heavy, heavy_b) > fits(plain, plain_b)
