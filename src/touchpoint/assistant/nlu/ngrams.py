"""Word and character n-gram TF-IDF features: the featuriser that needs no model, and a second view of the text
next to the sentence embedding (exact words such as "PIN", "top-up" or "Apple Pay" carry intent).

Same features as scikit-learn's TfidfVectorizer(sublinear_tf=True) with a word 1-2-gram and a char_wb 2-5-gram
analyzer, each block L2-normalised, written out so the `nlu` extra needs no scikit-learn. The fitted state is
plain data (vocabulary and idf weights), saved without pickle so loading a model directory never runs code.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse

WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)  # in-word character n-grams survive typos ("recieved", "transfered") that break words
_TOKEN = re.compile(r"(?u)\b\w+\b")


def word_grams(text: str) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def char_grams(text: str) -> list[str]:
    """Character n-grams inside space-padded words, as scikit-learn's char_wb analyzer."""
    grams: list[str] = []
    low, high = CHAR_NGRAMS
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams


class _Block:
    """One TF-IDF block: vocabulary, idf and its analyzer."""

    def __init__(self, analyze: Callable[[str], list[str]], terms: list[str], idf: np.ndarray) -> None:
        self.analyze = analyze
        self.terms = terms
        self.vocabulary = {t: i for i, t in enumerate(terms)}
        self.idf = idf.astype(np.float64)

    @classmethod
    def fit(cls, analyze: Callable[[str], list[str]], texts: list[str], min_df: int) -> _Block:
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(analyze(text)))
        terms = sorted(t for t, count in df.items() if count >= min_df)
        n = len(texts)
        # smooth idf, as scikit-learn: ln((1 + n) / (1 + df)) + 1
        idf = np.asarray([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float64)
        return cls(analyze, terms, idf)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of one text: sublinear tf x idf, L2-normalised."""
        counts: dict[int, int] = {}
        for gram in self.analyze(text):
            index = self.vocabulary.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        values *= self.idf[columns]
        values /= np.linalg.norm(values)
        order = np.argsort(columns)
        return columns[order], values[order].astype(np.float32)


class NgramFeaturiser:
    """TF-IDF over word 1-2-grams and in-word character 2-5-grams, L2-normalised per block."""

    def __init__(self) -> None:
        self._blocks: list[_Block] = []

    @property
    def fitted(self) -> bool:
        return bool(self._blocks)

    def fit(self, texts: list[str]) -> NgramFeaturiser:
        # Rare n-grams only add noise and weight when there are many examples; with few, every one counts.
        min_df = 2 if len(texts) >= 2000 else 1
        self._blocks = [_Block.fit(word_grams, texts, min_df), _Block.fit(char_grams, texts, min_df)]
        return self

    @property
    def dim(self) -> int:
        return sum(len(b.terms) for b in self._blocks)

    def transform(self, texts: Iterable[str]) -> sparse.csr_matrix:
        if not self._blocks:
            raise RuntimeError("NgramFeaturiser.transform before fit")
        indptr, columns, values = [0], [], []
        for text in texts:
            offset = 0
            for block in self._blocks:
                cols, vals = block.row(text)
                columns.append(cols + offset)
                values.append(vals)
                indptr.append(indptr[-1] + len(cols))
                offset += len(block.terms)
            indptr.pop(-2)  # one row per text, not per block
        data = np.concatenate(values) if values else np.zeros(0, np.float32)
        index = np.concatenate(columns) if columns else np.zeros(0, np.int64)
        return sparse.csr_matrix((data, index, np.asarray(indptr, np.int64)), shape=(len(indptr) - 1, self.dim))

    # --- persistence: vocabulary and idf as plain arrays -------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if not self._blocks:
            raise RuntimeError("NgramFeaturiser.state before fit")
        out: dict[str, Any] = {}
        for name, block in zip(("word", "char"), self._blocks, strict=True):
            out[f"{name}_terms"] = np.asarray(block.terms, dtype=str)
            out[f"{name}_idf"] = block.idf.astype(np.float32)
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NgramFeaturiser:
        featuriser = cls()
        for name, analyze in (("word", word_grams), ("char", char_grams)):
            terms = [str(t) for t in state[f"{name}_terms"]]
            idf = np.asarray(state[f"{name}_idf"], dtype=np.float64)
            if len(terms) != len(idf):
                raise ValueError(f"{name} n-gram vocabulary and idf weights differ in length")
            featuriser._blocks.append(_Block(analyze, terms, idf))
        return featuriser
