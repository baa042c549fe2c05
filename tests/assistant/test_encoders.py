from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from touchpoint.assistant.nlu import encoders
from touchpoint.assistant.nlu.encoders import OnnxSentenceEncoder, bundled_model_files, load_encoder
from touchpoint.assistant.nlu.errors import ModelLoadError


def test_embeddings_are_unit_vectors_and_order_independent(encoder):
    texts = ["where is my card", "", "I was charged twice for the same coffee, please help me", "😀", "hi"]
    emb, tokens = encoder.encode_with_tokens(texts)
    assert emb.shape == (5, encoder.dim) and encoder.dim == 384
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # sorting by length for batching must not permute the output
    for i, text in enumerate(texts):
        assert np.allclose(encoder.encode([text])[0], emb[i], atol=1e-4)
    assert all(t.shape[1] == encoder.dim and len(t) >= 1 for t in tokens)
    assert np.allclose(np.linalg.norm(tokens[2].astype(np.float32), axis=1), 1.0, atol=1e-2)


def test_token_ids_come_from_the_same_tokenisation_as_the_token_vectors(encoder):
    texts = ["where is my card", "", "I was charged twice for the same coffee"]
    emb, tokens, ids = encoder.encode_with_ids(texts)
    emb2, tokens2 = encoder.encode_with_tokens(texts)
    assert np.allclose(emb, emb2) and all(np.array_equal(a, b) for a, b in zip(tokens, tokens2, strict=True))
    assert [len(i) for i in ids] == [len(t) for t in tokens]
    vocab = encoder._tokenizer.get_vocab()
    assert ids[0].tolist() == [vocab[w] for w in ("where", "is", "my", "card")]  # no [CLS] / [SEP]


def test_similar_messages_are_closer_than_unrelated_ones(encoder):
    a, b, c = encoder.encode(["my card has not arrived yet", "the card still hasn't been delivered",
                              "what is the weather like in Lisbon"])
    assert float(a @ b) > float(a @ c) + 0.3


def _copy_bundled(tmp_path):
    files = bundled_model_files()
    shutil.copy(files.model, tmp_path / "model.onnx")
    shutil.copy(files.tokenizer, tmp_path / "tokenizer.json")
    return files


def test_workspace_model_directory_loads_and_matches_bundled(encoder, tmp_path):
    _copy_bundled(tmp_path)
    own = load_encoder(tmp_path)
    assert own.encoder_id.startswith("onnx:")
    assert np.allclose(own.encode(["hello there"]), encoder.encode(["hello there"]), atol=1e-5)


def test_vocab_txt_directory_gives_the_same_embeddings(encoder, tmp_path):
    files = _copy_bundled(tmp_path)
    vocab = json.loads(files.tokenizer.read_text())["model"]["vocab"]
    (tmp_path / "tokenizer.json").unlink()
    (tmp_path / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n")
    own = load_encoder(tmp_path)
    assert np.allclose(own.encode(["Where's my refund?"]), encoder.encode(["Where's my refund?"]), atol=1e-4)


def test_missing_or_corrupt_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_encoder(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match=r"no model\.onnx"):
        load_encoder(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match=r"neither tokenizer\.json nor vocab\.txt"):
        load_encoder(tmp_path)
    shutil.copy(bundled_model_files().tokenizer, tmp_path / "tokenizer.json")
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        load_encoder(tmp_path)
    shutil.copy(bundled_model_files().model, tmp_path / "model.onnx")
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot be read"):
        load_encoder(tmp_path)


def test_damaged_bundled_model_is_refused(tmp_path):
    files = bundled_model_files()
    damaged = tmp_path / "model.onnx"
    damaged.write_bytes(files.model.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelLoadError, match="sha256"):
        OnnxSentenceEncoder(encoders.ModelFiles(damaged, files.tokenizer, "x", files.expected_sha256))


def test_no_installed_model_falls_back_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(encoders, "bundled_model_files", lambda: None)
    with caplog.at_level(logging.WARNING, logger=encoders.__name__):
        assert load_encoder() is None
    assert "lower accuracy" in caplog.text
