"""Retrieval by meaning: cosine similarity between the customer's message and the knowledge base's texts, all
embedded by the workspace's sentence encoder (unit vectors, so a dot product is the cosine).

numpy is imported here only: the knowledge base works without the `nlu` extra, in words only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENCODE_BATCH = 32


class SemanticIndex:
    """The vectors of one knowledge-base version. A retrieval unit may have several (an FAQ's question and its
    answer): `owners[i]` is the unit of row i, and a unit scores its best row."""

    def __init__(self, vectors: np.ndarray, owners: list[int], texts: list[str], units: int) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.owners = np.asarray(owners, dtype=np.int64)  # non-decreasing: a unit's rows are consecutive
        self.texts = texts  # row i embeds texts[i]: a rebuild re-embeds only texts it has not seen
        self.units = units
        self._starts = np.searchsorted(self.owners, np.arange(units))
        self._has_rows = np.isin(np.arange(units), self.owners)

    def cosines(self, query: np.ndarray) -> np.ndarray:
        """Per unit, the best cosine of its rows (-1 for a unit without any)."""
        best = np.full(self.units, -1.0, dtype=np.float32)
        if len(self.owners) and self.units:
            similarities = self.vectors @ query.astype(np.float32)
            starts = np.minimum(self._starts, len(self.owners) - 1)
            best = np.where(self._has_rows, np.maximum.reduceat(similarities, starts), -1.0)
        return np.clip(best, -1.0, 1.0)

    @staticmethod
    def nearest(cosines: np.ndarray, count: int) -> list[int]:
        """The `count` units with the highest cosines, in no particular order."""
        count = min(len(cosines), count)
        return [int(i) for i in np.argpartition(-cosines, count - 1)[:count]] if count > 0 else []


def encode_texts(encoder: Any, texts: list[str]) -> np.ndarray:
    """CPU-bound (a few ms a text): callers run it in a worker thread, never on the event loop."""
    if not texts:
        return np.zeros((0, int(encoder.dim)), dtype=np.float32)
    return np.asarray(encoder.encode(texts, batch_size=ENCODE_BATCH), dtype=np.float32)


def encode_query(encoder: Any, text: str) -> np.ndarray:
    return np.asarray(encoder.encode([text])[0], dtype=np.float32)


def stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dim), dtype=np.float32)
