"""Intent classification over a frozen sentence encoder.

Three views of a message are fused into one score per intent (log-linear, weights chosen on BANKING77 *training*
data held out from fitting, never on its test set):

1. multinomial logistic regression on the mean-pooled sentence embedding (the classic frozen-encoder baseline);
2. late interaction: each token of the message is matched with its most similar token of a training example
   (ColBERT-style MaxSim), over the few best training examples of the intents the regression ranks highest —
   it recovers word-level detail that mean pooling blurs, and is worth ~1-2 points on BANKING77;
3. logistic regression on word and character n-grams (exact terms, typos).

With no encoder installed only view 3 exists: it works, with lower accuracy, and says so in its metadata.
Out-of-scope detection uses the cosine similarity of the message to the nearest training example of the intent it
was given, with the threshold set from leave-one-out similarities of the training examples themselves.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from touchpoint.assistant.nlu.encoders import SentenceEncoder
from touchpoint.assistant.nlu.errors import TrainingDataError
from touchpoint.assistant.nlu.linear import fit_softmax_regression
from touchpoint.assistant.nlu.ngrams import NgramFeaturiser
from touchpoint.assistant.nlu.text import clean_text

log = logging.getLogger(__name__)

LATE_WEIGHT = 10.0  # weight of the late-interaction score against log P(embedding regression)
NGRAM_WEIGHT = 0.4  # weight of log P(n-gram regression)
CANDIDATE_INTENTS = 8  # late interaction looks at this many top intents...
CANDIDATE_EXAMPLES = 16  # ...and at this many nearest examples of each
# Share of in-scope training examples (leave-one-out) the out-of-scope threshold may reject.
DEFAULT_OOS_REJECT_RATE = 0.02


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    intent: str | None  # None when the message is out of scope
    best_intent: str  # the top intent even when out of scope, for logs and the agent's view
    confidence: float  # fused probability of best_intent
    similarity: float  # cosine similarity to the nearest training example of best_intent
    out_of_scope: bool
    ranking: tuple[tuple[str, float], ...] = field(default_factory=tuple)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _log_proba(x: Any, weights: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """`weights` is features x intents and C-contiguous: a sparse row times it then needs no copy (a transposed
    view made scipy copy the whole n-gram weight matrix on every message)."""
    logits = np.asarray(x @ weights) + intercept
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def _fit_regression(x: Any, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    return fit_softmax_regression(x, y, c, balanced=True)


def _nearest_same_label(emb: Any, labels: np.ndarray, block: int = 1024) -> np.ndarray:
    """For each row, the cosine similarity to its nearest *other* row of the same label (leave-one-out)."""
    out = np.empty(emb.shape[0], dtype=np.float32)
    for start in range(0, emb.shape[0], block):
        sims = emb[start:start + block] @ emb.T
        sims = sims.toarray() if sparse.issparse(sims) else sims
        rows = np.arange(sims.shape[0])
        sims[labels[start:start + block, None] != labels[None, :]] = -1.0
        sims[rows, start + rows] = -1.0
        out[start:start + block] = sims.max(axis=1)
    return out


class IntentClassifier:
    """Fit on (text, intent) examples; predict an intent, a confidence and an out-of-scope flag per message."""

    def __init__(self, encoder: SentenceEncoder | None) -> None:
        self.encoder = encoder
        self.intents: list[str] = []
        self.oos_threshold = -1.0
        self.meta: dict[str, Any] = {}
        self._ngrams = NgramFeaturiser()
        self._ng_coef = np.zeros((0, 0), np.float32)  # n-gram features x intents
        self._ng_intercept = np.zeros(0, np.float32)
        self._emb_coef = np.zeros((0, 0), np.float32)
        self._emb_intercept = np.zeros(0, np.float32)
        self._emb: Any = np.zeros((0, 0), np.float32)  # training sentence vectors (sparse n-grams without encoder)
        self._emb_t: Any = None
        self._labels = np.zeros(0, np.int32)
        self._tokens = np.zeros((0, 0), np.float32)  # all training token vectors, one block per example
        self._offsets = np.zeros(1, np.int64)
        self._members: list[np.ndarray] = []

    @property
    def uses_encoder(self) -> bool:
        return self.encoder is not None

    # --- training ------------------------------------------------------------------------------------------

    def fit(self, texts: list[str], labels: list[str], *, oos_reject_rate: float = DEFAULT_OOS_REJECT_RATE,
            ) -> IntentClassifier:
        started = time.perf_counter()
        cleaned = [clean_text(t) for t in texts]
        pairs = [(t, lab) for t, lab in zip(cleaned, labels, strict=True) if t and lab]
        counts = Counter(lab for _, lab in pairs)
        if len(counts) < 2:
            raise TrainingDataError("at least two intents with non-empty examples are needed")
        self.intents = sorted(counts)
        index = {name: i for i, name in enumerate(self.intents)}
        texts_ok = [t for t, _ in pairs]
        y = np.asarray([index[lab] for _, lab in pairs], dtype=np.int32)
        self._labels = y
        self._members = [np.flatnonzero(y == k) for k in range(len(self.intents))]
        # Few examples per intent need a weaker penalty (C up) to fit at all; many need more regularisation.
        per_intent = float(np.median(list(counts.values())))
        self._ngrams.fit(texts_ok)
        grams = self._ngrams.transform(texts_ok)
        self._ng_coef, self._ng_intercept = _fit_regression(grams, y, 30.0)
        if self.encoder is not None:
            emb, tokens = self.encoder.encode_with_tokens(texts_ok)
            self._emb = emb.astype(np.float32)
            self._emb_coef, self._emb_intercept = _fit_regression(emb, y, 30.0 if per_intent < 50 else 10.0)
            lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
            self._offsets = np.concatenate([[0], np.cumsum(lengths)])
            self._tokens = np.concatenate(tokens).astype(np.float32)
        else:
            self._emb = grams.astype(np.float32)  # sparse: nearest-example similarity in n-gram space
        self._emb_t = None
        self.oos_threshold = self._calibrate_oos(oos_reject_rate)
        self.meta = {
            "examples": len(texts_ok), "intents": len(self.intents), "featuriser": self.featuriser_id,
            "train_seconds": round(time.perf_counter() - started, 2), "oos_reject_rate": oos_reject_rate,
        }
        return self

    def _calibrate_oos(self, reject_rate: float) -> float:
        """Threshold on the similarity to the nearest example of the predicted intent: the `reject_rate` quantile
        of each training example's similarity to its nearest *other* example of its intent. Leave-one-out makes
        every example a held-out in-scope message; an intent with a single example contributes nothing."""
        if self._emb.shape[0] == 0 or reject_rate <= 0:
            return -1.0
        multi = np.asarray([len(self._members[k]) > 1 for k in self._labels])
        loo = _nearest_same_label(self._emb, self._labels)[multi]
        return float(np.quantile(loo, reject_rate)) if len(loo) else -1.0

    @property
    def featuriser_id(self) -> str:
        return f"{self.encoder.encoder_id}+ngrams" if self.encoder is not None else "ngrams-only"

    # --- prediction ----------------------------------------------------------------------------------------

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: list[str], batch_size: int = 32,
                     encoded: tuple[np.ndarray, list[np.ndarray]] | None = None) -> list[IntentPrediction]:
        """`encoded`: the encoder's `encode_with_tokens` output for the cleaned texts, when the caller already has
        it (the engine encodes a message once for intent and escalation)."""
        if not self.intents:
            raise RuntimeError("IntentClassifier.predict before fit")
        cleaned = [clean_text(t) for t in texts]
        grams = self._ngrams.transform(cleaned)
        scores = NGRAM_WEIGHT * _log_proba(grams, self._ng_coef, self._ng_intercept)
        if self.encoder is None:
            scores = scores / NGRAM_WEIGHT
            if self._emb_t is None:  # transposed once: a csc view would be converted on every message
                self._emb_t = self._emb.T.tocsr()
            all_sims = (grams @ self._emb_t).toarray()
        else:
            emb, tokens = encoded if encoded is not None else self.encoder.encode_with_tokens(cleaned, batch_size)
            log_p = _log_proba(emb, self._emb_coef, self._emb_intercept)
            all_sims = emb @ self._emb.T
            late = np.stack([self._late_scores(tokens[i], all_sims[i], log_p[i]) for i in range(len(cleaned))])
            scores = scores + log_p + LATE_WEIGHT * late
        probs = _softmax(scores)
        out = []
        for i, text in enumerate(cleaned):
            top = np.argsort(-probs[i])[:3]
            # Similarity to the nearest example *of the chosen intent*: a message of an unsupported intent tends to
            # sit between intents, close to some example of another one but far from those of the one it gets.
            similarity = float(all_sims[i, self._members[top[0]]].max())
            oos = not text or similarity < self.oos_threshold
            best = self.intents[top[0]]
            out.append(IntentPrediction(
                intent=None if oos else best, best_intent=best, confidence=float(probs[i, top[0]]),
                similarity=similarity, out_of_scope=oos,
                ranking=tuple((self.intents[k], round(float(probs[i, k]), 4)) for k in top)))
        return out

    def _late_scores(self, query: np.ndarray, sims: np.ndarray, log_p: np.ndarray) -> np.ndarray:
        """Per intent: best mean-over-query-tokens MaxSim among the nearest examples of the top intents (0 for
        intents outside the candidates, which the fused score then ranks lower)."""
        n_intents = len(self.intents)
        candidates = np.argsort(-log_p)[:CANDIDATE_INTENTS]
        chosen, owners = [], []
        for k in candidates:
            members = self._members[k]
            if len(members) > CANDIDATE_EXAMPLES:
                members = members[np.argpartition(-sims[members], CANDIDATE_EXAMPLES)[:CANDIDATE_EXAMPLES]]
            chosen.append(members)
            owners.append(np.full(len(members), k))
        rows = np.concatenate(chosen)
        starts = self._offsets[rows]
        lengths = self._offsets[rows + 1] - starts
        seg_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        token_index = np.repeat(starts - seg_starts, lengths) + np.arange(int(lengths.sum()))
        per_token = query.astype(np.float32) @ self._tokens[token_index].T
        per_example = np.maximum.reduceat(per_token, seg_starts, axis=1).mean(axis=0)
        out = np.zeros(n_intents, dtype=np.float32)
        np.maximum.at(out, np.concatenate(owners), per_example)
        return out

    # --- persistence -----------------------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(json-able metadata, arrays) — everything needed to predict, without pickle."""
        arrays: dict[str, np.ndarray] = {f"ngram_{k}": v for k, v in self._ngrams.state().items()}
        arrays.update(ng_coef=self._ng_coef, ng_intercept=self._ng_intercept, labels=self._labels)
        if self.encoder is not None:
            arrays.update(emb=self._emb.astype(np.float16), emb_coef=self._emb_coef,
                          emb_intercept=self._emb_intercept, tokens=self._tokens.astype(np.float16),
                          offsets=self._offsets)
        else:
            grams = sparse.csr_matrix(self._emb)
            arrays.update(grams_data=grams.data, grams_indices=grams.indices, grams_indptr=grams.indptr,
                          grams_shape=np.asarray(grams.shape))
        meta = {"intents": self.intents, "oos_threshold": self.oos_threshold, "featuriser": self.featuriser_id,
                **self.meta}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   encoder: SentenceEncoder | None) -> IntentClassifier:
        model = cls(encoder)
        model.intents = list(meta["intents"])
        model.oos_threshold = float(meta["oos_threshold"])
        model.meta = {k: v for k, v in meta.items() if k not in ("intents", "oos_threshold")}
        model._ngrams = NgramFeaturiser.from_state(
            {k.removeprefix("ngram_"): v for k, v in arrays.items() if k.startswith("ngram_")})
        model._ng_coef, model._ng_intercept = np.ascontiguousarray(arrays["ng_coef"]), arrays["ng_intercept"]
        model._labels = arrays["labels"].astype(np.int32)
        model._members = [np.flatnonzero(model._labels == k) for k in range(len(model.intents))]
        if encoder is None:
            model._emb = sparse.csr_matrix(
                (arrays["grams_data"], arrays["grams_indices"], arrays["grams_indptr"]),
                shape=tuple(int(v) for v in arrays["grams_shape"]))
        else:
            model._emb = arrays["emb"].astype(np.float32)
            model._emb_coef = np.ascontiguousarray(arrays["emb_coef"])
            model._emb_intercept = arrays["emb_intercept"]
            # float16 on disk (half the size), float32 in memory (no conversion on the per-message path)
            model._tokens, model._offsets = arrays["tokens"].astype(np.float32), arrays["offsets"].astype(np.int64)
        n = len(model.intents)
        if model._ng_coef.shape != (model._ngrams.dim, n) or (encoder is not None and model._emb_coef.shape[1] != n):
            raise ValueError("model arrays do not match its intent list")
        return model
