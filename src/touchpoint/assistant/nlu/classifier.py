"""Intent classification over a frozen sentence encoder.

Several views of a message are fused into one score per intent (log-linear; weights chosen on BANKING77 *training*
data held out from fitting, never on its test set):

1. multinomial logistic regression on the mean-pooled sentence embedding (the classic frozen-encoder baseline);
2. late interaction: each token of the message is matched with its most similar token of a training example
   (ColBERT-style MaxSim), over the few best training examples of the intents the regression ranks highest —
   it recovers word-level detail that mean pooling blurs, and is worth ~1-2 points on BANKING77;
3. logistic regression on word and character n-grams (exact terms, typos).

With few examples per intent (fewer than FEW_SHOT_BELOW) two more views help, and late interaction weights the
message's tokens by their rarity in the training examples (idf), so "card" counts less than "swallowed":

4. logistic regression on the max-pooled token vectors (a second pooling of the same encoder pass);
5. cosine similarity to the embedding of the intent's *name* ("card_swallowed" -> "card swallowed"), which also
   joins the intent's training examples.

With no encoder installed only view 3 exists: it works, with lower accuracy, and says so in its metadata.
Out-of-scope detection is in `oos.py`: thresholds on the fused distribution's entropy and on the similarity to the
nearest example, calibrated on training data only.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from touchpoint.assistant.nlu import oos
from touchpoint.assistant.nlu.encoders import SentenceEncoder
from touchpoint.assistant.nlu.errors import TrainingDataError
from touchpoint.assistant.nlu.linear import fit_softmax_regression
from touchpoint.assistant.nlu.ngrams import NgramFeaturiser
from touchpoint.assistant.nlu.text import clean_text

log = logging.getLogger(__name__)

CANDIDATE_INTENTS = 8  # late interaction looks at this many top intents (and at Fusion.examples of each)
FEW_SHOT_BELOW = 50  # median examples per intent under which the few-shot fusion is used


@dataclass(frozen=True, slots=True)
class Fusion:
    """Weights of the views (log P of the regressions, similarities for the others)."""

    name: str
    embedding: float
    ngrams: float
    late: float
    maxpool: float = 0.0
    label: float = 0.0
    idf: bool = False
    # Nearest examples per candidate intent that late interaction compares token by token. With many examples per
    # intent 4 scored the same as 16 on a BANKING77 training split held out from fitting (92.84 both) at a third
    # of the cost (~1.3 ms less per message); few-shot intents have fewer than 16, so all are used.
    examples: int = 16


# "v1" is also what models saved before the fusion was recorded use.
FULL = Fusion("v1", embedding=1.0, ngrams=0.4, late=10.0, examples=4)
FEW_SHOT = Fusion("fewshot-v2", embedding=0.5, ngrams=0.2, late=15.0, maxpool=0.5, label=4.0, idf=True)
FUSIONS = {f.name: f for f in (FULL, FEW_SHOT)}

# (sentence vectors, token vectors) from `encode_with_tokens`, or with token ids (or None) from `encode_views`.
Encoded = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    intent: str | None  # None when the message is out of scope
    best_intent: str  # the top intent even when out of scope, for logs and the agent's view
    confidence: float  # probability of best_intent (fused views, temperature-calibrated on held-out examples)
    similarity: float  # cosine similarity to the nearest training example of best_intent
    out_of_scope: bool
    ranking: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    uncertainty: float = 0.0  # entropy of the fused distribution / log(intents): 0 sure .. 1 no idea


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


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _max_pool(tokens: list[np.ndarray], dim: int) -> np.ndarray:
    pooled = [t.max(axis=0) if len(t) else np.zeros(dim, np.float32) for t in tokens]
    return _unit(np.asarray(pooled, dtype=np.float32).reshape(len(tokens), dim))


def intent_name_text(name: str) -> str:
    """"card_payment_not_recognised" -> "card payment not recognised": intent names carry meaning."""
    return re.sub(r"[\W_]+", " ", name).strip() or name


def encode_views(encoder: SentenceEncoder, texts: list[str], batch_size: int = 32,
            ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray] | None]:
    with_ids = getattr(encoder, "encode_with_ids", None)
    if with_ids is not None:
        emb, tokens, ids = with_ids(texts, batch_size)
        return emb, tokens, ids
    emb, tokens = encoder.encode_with_tokens(texts, batch_size)
    return emb, tokens, None


class IntentClassifier:
    """Fit on (text, intent) examples; predict an intent, a confidence and an out-of-scope flag per message."""

    def __init__(self, encoder: SentenceEncoder | None) -> None:
        self.encoder = encoder
        self.intents: list[str] = []
        self.oos_threshold = 2.0  # on `uncertainty`: above it a message is out of scope (2: never)
        self.similarity_threshold = -1.0  # below it a message is out of scope (-1: never)
        self.temperature = 1.0  # divides the fused log-probabilities for the reported confidence (see oos.py)
        self.meta: dict[str, Any] = {}
        self.fusion = FULL
        self._ngrams = NgramFeaturiser()
        self._ng_coef = np.zeros((0, 0), np.float32)  # n-gram features x intents
        self._ng_intercept = np.zeros(0, np.float32)
        self._emb_coef = np.zeros((0, 0), np.float32)
        self._emb_intercept = np.zeros(0, np.float32)
        self._max_coef = np.zeros((0, 0), np.float32)
        self._max_intercept = np.zeros(0, np.float32)
        self._label_emb = np.zeros((0, 0), np.float32)
        self._idf_ids = np.zeros(0, np.int64)  # sorted token ids seen in training, and their idf
        self._idf_values = np.zeros(0, np.float32)
        self._idf_unseen = 1.0
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

    def fit(self, texts: list[str], labels: list[str], *, oos_reject_rate: float = oos.DEFAULT_REJECT_RATE,
            calibrate: bool = True, fusion: Fusion | None = None) -> IntentClassifier:
        """`oos_reject_rate`: the share of in-scope messages the out-of-scope thresholds may turn away, estimated
        on training examples held out of a second fit (`calibrate=False` skips that fit: nothing is then out of
        scope except empty messages). `fusion`: force a set of view weights instead of choosing by data size."""
        started = time.perf_counter()
        cleaned = [clean_text(t) for t in texts]
        pairs = [(t, lab) for t, lab in zip(cleaned, labels, strict=True) if t and lab]
        counts = Counter(lab for _, lab in pairs)
        if len(counts) < 2:
            raise TrainingDataError("at least two intents with non-empty examples are needed")
        self.intents = sorted(counts)
        index = {name: i for i, name in enumerate(self.intents)}
        # Few examples per intent need a weaker penalty (C up) to fit at all; many need more regularisation.
        per_intent = float(np.median(list(counts.values())))
        self.fusion = fusion or (FEW_SHOT if per_intent < FEW_SHOT_BELOW else FULL)
        given = [t for t, _ in pairs]
        if self.fusion.label and self.encoder is not None:
            # The intent's name as one more example ("card swallowed"): with 10 examples per intent it was worth
            # +0.3 points on BANKING77 training examples held out from fitting (4 seeds: +0.7, -0.1, +0.3, +0.2).
            seen = set(pairs)
            names = [(clean_text(intent_name_text(n)), n) for n in self.intents]
            pairs = pairs + [p for p in names if p[0] and p not in seen]
        texts_ok = [t for t, _ in pairs]
        y = np.asarray([index[lab] for _, lab in pairs], dtype=np.int32)
        self._labels = y
        self._members = [np.flatnonzero(y == k) for k in range(len(self.intents))]
        self._ngrams.fit(texts_ok)
        grams = self._ngrams.transform(texts_ok)
        self._ng_coef, self._ng_intercept = _fit_regression(grams, y, 30.0)
        encoded = None
        if self.encoder is not None:
            emb, tokens, ids = encoded = encode_views(self.encoder, texts_ok)
            self._emb = emb.astype(np.float32)
            self._emb_coef, self._emb_intercept = _fit_regression(emb, y, 30.0 if per_intent < 50 else 10.0)
            lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
            self._offsets = np.concatenate([[0], np.cumsum(lengths)])
            self._tokens = np.concatenate(tokens).astype(np.float32)
            if self.fusion.maxpool:
                pooled = _max_pool([t.astype(np.float32) for t in tokens], emb.shape[1])
                self._max_coef, self._max_intercept = _fit_regression(pooled, y, 30.0)
            if self.fusion.label:
                self._label_emb = self.encoder.encode([intent_name_text(n) for n in self.intents]).astype(np.float32)
            if self.fusion.idf and ids is not None:
                self._fit_idf(ids)
        else:
            self._emb = grams.astype(np.float32)  # sparse: nearest-example similarity in n-gram space
        self._emb_t = None
        calibration: dict[str, Any] = {}
        if calibrate:
            # On the examples as given: each proxy adds the intent names itself, and none is ever held out.
            calibration = oos.calibrate(self, given, [lab for _, lab in pairs[:len(given)]], oos_reject_rate,
                                        encoded, texts_ok)
        self.meta = {
            "examples": len(texts_ok), "intents": len(self.intents), "featuriser": self.featuriser_id,
            "fusion": self.fusion.name, "train_seconds": round(time.perf_counter() - started, 2),
            "oos_reject_rate": oos_reject_rate, "oos_calibration": calibration,
        }
        return self

    def _fit_idf(self, ids: list[np.ndarray]) -> None:
        df: Counter[int] = Counter()
        for row in ids:
            df.update(set(row.tolist()))
        n = len(ids)
        seen = sorted(df)
        self._idf_ids = np.asarray(seen, dtype=np.int64)
        self._idf_values = np.asarray([np.log((n + 1) / (df[i] + 1)) + 1 for i in seen], np.float32)
        self._idf_unseen = float(np.log(n + 1) + 1)

    def _token_weights(self, ids: np.ndarray | None, count: int) -> np.ndarray | None:
        if ids is None or not len(self._idf_ids) or len(ids) != count:
            return None
        where = np.minimum(np.searchsorted(self._idf_ids, ids), len(self._idf_ids) - 1)
        return np.where(self._idf_ids[where] == ids, self._idf_values[where], self._idf_unseen).astype(np.float32)

    @property
    def featuriser_id(self) -> str:
        return f"{self.encoder.encoder_id}+ngrams" if self.encoder is not None else "ngrams-only"

    # --- prediction ----------------------------------------------------------------------------------------

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: list[str], batch_size: int = 32,
                     encoded: Encoded | None = None) -> list[IntentPrediction]:
        """`encoded`: the encoder's `encode_with_ids` (or `encode_with_tokens`) output for the cleaned texts, when
        the caller already has it (the engine encodes a message once for intent and escalation)."""
        fused, nearest = self.scores(texts, batch_size, encoded)
        cleaned = [clean_text(t) for t in texts]
        uncertainty = oos.uncertainty(fused)  # thresholds were calibrated on the fused distribution itself
        probs = oos.soften(fused, self.temperature)
        out = []
        for i, text in enumerate(cleaned):
            top = np.argsort(-probs[i])[:3]
            # Similarity to the nearest example *of the chosen intent*: a message of an unsupported intent tends to
            # sit between intents, close to some example of another one but far from those of the one it gets.
            similarity = float(nearest[i])
            unsure = float(uncertainty[i])
            is_oos = not text or unsure > self.oos_threshold or similarity < self.similarity_threshold
            best = self.intents[top[0]]
            out.append(IntentPrediction(
                intent=None if is_oos else best, best_intent=best, confidence=float(probs[i, top[0]]),
                similarity=similarity, out_of_scope=is_oos, uncertainty=round(unsure, 4),
                ranking=tuple((self.intents[k], round(float(probs[i, k]), 4)) for k in top)))
        return out

    def scores(self, texts: list[str], batch_size: int = 32, encoded: Encoded | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """(fused probabilities texts x intents, per text the cosine similarity to the nearest training example of
        its top intent)."""
        if not self.intents:
            raise RuntimeError("IntentClassifier.predict before fit")
        cleaned = [clean_text(t) for t in texts]
        grams = self._ngrams.transform(cleaned)
        fusion = self.fusion
        if self.encoder is None:
            if self._emb_t is None:  # transposed once: a csc view would be converted on every message
                self._emb_t = self._emb.T.tocsr()
            probs = _softmax(_log_proba(grams, self._ng_coef, self._ng_intercept))
            return probs, self._nearest(probs, (grams @ self._emb_t).toarray())
        if encoded is None:
            emb, tokens, ids = encode_views(self.encoder, cleaned, batch_size)
        else:
            emb, tokens = encoded[0], encoded[1]
            ids = encoded[2] if len(encoded) == 3 else None
        log_p = _log_proba(emb, self._emb_coef, self._emb_intercept)
        all_sims = emb @ self._emb.T if len(cleaned) > 1 else self._candidate_sims(emb[0], log_p[0])[None, :]
        late = np.stack([
            self._late_scores(tokens[i], all_sims[i], log_p[i],
                              self._token_weights(ids[i], len(tokens[i])) if fusion.idf and ids else None)
            for i in range(len(cleaned))])
        scores = (fusion.ngrams * _log_proba(grams, self._ng_coef, self._ng_intercept)
                  + fusion.embedding * log_p + fusion.late * late)
        if fusion.maxpool and self._max_coef.size:
            pooled = _max_pool([t.astype(np.float32) for t in tokens], emb.shape[1])
            scores += fusion.maxpool * _log_proba(pooled, self._max_coef, self._max_intercept)
        if fusion.label and self._label_emb.size:
            scores += fusion.label * (emb @ self._label_emb.T)
        probs = _softmax(scores)
        if len(cleaned) == 1:  # the top intent may lie outside the candidates whose similarities were computed
            top = int(probs[0].argmax())
            if all_sims[0, self._members[top][0]] < -1.5:
                all_sims[0, self._members[top]] = self._emb[self._members[top]] @ emb[0]
        return probs, self._nearest(probs, all_sims)

    def _candidates(self, log_p: np.ndarray) -> np.ndarray:
        if len(self.intents) <= CANDIDATE_INTENTS:
            return np.arange(len(self.intents))
        return np.argpartition(-log_p, CANDIDATE_INTENTS)[:CANDIDATE_INTENTS]

    def _candidate_sims(self, emb: np.ndarray, log_p: np.ndarray) -> np.ndarray:
        """Similarities to the examples of the candidate intents only (-2 elsewhere): for one message this reads
        ~1,000 training vectors instead of all 10,000 (15 MB), which matters on a busy machine."""
        rows = np.concatenate([self._members[k] for k in self._candidates(log_p)])
        sims = np.full(self._emb.shape[0], -2.0, dtype=np.float32)
        sims[rows] = self._emb[rows] @ emb
        return sims

    def _nearest(self, probs: np.ndarray, sims: np.ndarray) -> np.ndarray:
        top = probs.argmax(axis=1)
        return np.asarray([sims[i, self._members[k]].max() for i, k in enumerate(top)], dtype=np.float32)

    def _late_scores(self, query: np.ndarray, sims: np.ndarray, log_p: np.ndarray,
                     weights: np.ndarray | None = None) -> np.ndarray:
        """Per intent: best (idf-weighted) mean-over-query-tokens MaxSim among the nearest examples of the top
        intents (0 for intents outside the candidates, which the fused score then ranks lower)."""
        n_intents = len(self.intents)
        out = np.zeros(n_intents, dtype=np.float32)
        if not len(query):
            return out
        chosen, owners = [], []
        for k in self._candidates(log_p):
            members = self._members[k]
            if len(members) > self.fusion.examples:
                members = members[np.argpartition(-sims[members], self.fusion.examples)[:self.fusion.examples]]
            chosen.append(members)
            owners.append(np.full(len(members), k))
        rows = np.concatenate(chosen)
        starts = self._offsets[rows]
        lengths = self._offsets[rows + 1] - starts
        keep = lengths > 0
        rows, starts, lengths = rows[keep], starts[keep], lengths[keep]
        owner = np.concatenate(owners)[keep]
        if not len(rows):
            return out
        seg_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        token_index = np.repeat(starts - seg_starts, lengths) + np.arange(int(lengths.sum()))
        per_token = np.maximum.reduceat(query.astype(np.float32) @ self._tokens[token_index].T, seg_starts, axis=1)
        per_example = per_token.mean(axis=0) if weights is None else (weights @ per_token) / float(weights.sum())
        np.maximum.at(out, owner, per_example)
        return out

    # --- persistence -----------------------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(json-able metadata, arrays) — everything needed to predict, without pickle."""
        arrays: dict[str, np.ndarray] = {f"ngram_{k}": v for k, v in self._ngrams.state().items()}
        arrays.update(ng_coef=self._ng_coef, ng_intercept=self._ng_intercept, labels=self._labels)
        if self.encoder is not None:
            arrays.update(emb=self._emb.astype(np.float16), emb_coef=self._emb_coef,
                          emb_intercept=self._emb_intercept, tokens=self._tokens.astype(np.float16),
                          offsets=self._offsets, max_coef=self._max_coef, max_intercept=self._max_intercept,
                          label_emb=self._label_emb, idf_ids=self._idf_ids, idf_values=self._idf_values)
        else:
            grams = sparse.csr_matrix(self._emb)
            arrays.update(grams_data=grams.data, grams_indices=grams.indices, grams_indptr=grams.indptr,
                          grams_shape=np.asarray(grams.shape))
        # self.meta first: its "intents" is a count, the list must win.
        meta = {**self.meta, "intents": self.intents, "oos_threshold": self.oos_threshold,
                "similarity_threshold": self.similarity_threshold, "idf_unseen": self._idf_unseen,
                "temperature": self.temperature, "featuriser": self.featuriser_id, "fusion": self.fusion.name}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   encoder: SentenceEncoder | None) -> IntentClassifier:
        model = cls(encoder)
        model.intents = list(meta["intents"])
        fusion = meta.get("fusion", FULL.name)
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}")
        model.fusion = FUSIONS[fusion]
        if "similarity_threshold" in meta:
            model.oos_threshold = float(meta["oos_threshold"])
            model.similarity_threshold = float(meta["similarity_threshold"])
        else:  # saved before entropy thresholds: its one threshold was on the similarity
            model.similarity_threshold = float(meta["oos_threshold"])
        model._idf_unseen = float(meta.get("idf_unseen", 1.0))
        model.temperature = float(meta.get("temperature", 1.0))
        model.meta = {k: v for k, v in meta.items()
                      if k not in ("intents", "oos_threshold", "similarity_threshold", "idf_unseen", "temperature")}
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
            if "max_coef" in arrays:
                model._max_coef = np.ascontiguousarray(arrays["max_coef"], dtype=np.float32)
                model._max_intercept = arrays["max_intercept"].astype(np.float32)
                model._label_emb = arrays["label_emb"].astype(np.float32)
                model._idf_ids = arrays["idf_ids"].astype(np.int64)
                model._idf_values = arrays["idf_values"].astype(np.float32)
        n = len(model.intents)
        if model._ng_coef.shape != (model._ngrams.dim, n) or (encoder is not None and model._emb_coef.shape[1] != n):
            raise ValueError("model arrays do not match its intent list")
        if model._label_emb.size and model._label_emb.shape[0] != n:
            raise ValueError("intent-name vectors do not match its intent list")
        return model
