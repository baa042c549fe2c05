"""Out of scope: when the classifier should say "I don't know" instead of guessing an intent.

Two signals, each with a threshold:

- *uncertainty*, the entropy of the fused intent distribution divided by log(number of intents): a message of an
  unsupported intent usually spreads its probability over several neighbours. On BANKING77 with 15 intents held out
  it separates them from supported ones better than any other single score we measured (maximum probability,
  margin, similarity to the nearest example, late-interaction score, a Mahalanobis distance with a shared
  covariance, an energy score, a logistic combination of them, and an extra "none" class trained on mixtures of
  neighbouring intents' embeddings);
- *similarity* to the nearest training example of the chosen intent, which catches what is far from everything
  ("recommend me a horror film" to a hotel bot) even when the classifier is sure among a handful of intents.

Both thresholds are calibrated on the training data alone: FOLDS more models are each fitted on ~80% of every
intent's examples, their held-out 20% (disjoint chunks, pooled) stand in for in-scope traffic, and the thresholds
then turn away `reject_rate` of those (a quarter of that budget on similarity, the rest on uncertainty). No test
message is ever looked at. Held-out training examples come out less sure than BANKING77's test messages, so the
final model uses less than its budget there (1.3 of 2 points).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from touchpoint.assistant.nlu.classifier import IntentClassifier

DEFAULT_REJECT_RATE = 0.02  # of in-scope messages: the 2-point accuracy drop the issue allows (the calibration
# model, fitted on 80% of the data, is less sure than the final one, so the final model rejects fewer)
HOLDOUT_SHARE = 0.2
SIMILARITY_SHARE = 0.25  # of the reject budget spent on the similarity threshold
SEED = 7
# Proxies fitted, each with its own disjoint held-out chunk, pooled. On BANKING77 (62 intents, all training data) the
# uncertainty threshold of one 20% fold was 0.24, 0.19 or 0.23 depending on the random split; pooling three folds
# estimates the 2% tail from ~4,800 examples instead of ~1,600, for three fits instead of one.
FOLDS = 3
MIN_FOR_TEMPERATURE = 50  # held-out examples needed before the confidence is rescaled


def fit_temperature(probs: np.ndarray, truth: np.ndarray) -> float:
    """The temperature T minimising the log-loss of softmax(log(probs) / T) on held-out examples: fused scores add
    several views' evidence and come out over-confident; a confidence of 0.8 should be right ~80% of the time."""
    logs = np.log(np.clip(probs, 1e-12, 1.0))
    best, best_loss = 1.0, np.inf
    if len(truth) < MIN_FOR_TEMPERATURE:
        return 1.0
    for t in np.exp(np.linspace(0.0, np.log(20.0), 40)):  # soften only: a few lucky examples must not sharpen
        z = logs / t
        z = z - z.max(axis=1, keepdims=True)
        loss = float(-(z[np.arange(len(truth)), truth] - np.log(np.exp(z).sum(axis=1))).mean())
        if loss < best_loss:
            best, best_loss = float(t), loss
    return round(best, 4)


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    if temperature == 1.0:
        return probs
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def uncertainty(probs: np.ndarray) -> np.ndarray:
    """Normalised entropy per row: 0 when one intent has all the probability, 1 when all are equal."""
    k = probs.shape[1]
    if k < 2:
        return np.zeros(probs.shape[0], np.float32)
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    return (entropy / np.log(k)).astype(np.float32)


class _Memo:
    """The training texts' encodings, served again to the calibration model instead of re-running the encoder."""

    def __init__(self, inner: Any, texts: list[str], encoded: tuple[np.ndarray, list[np.ndarray], Any]) -> None:
        self.inner, self.encoder_id, self.dim = inner, inner.encoder_id, inner.dim
        emb, tokens, ids = encoded
        self._rows = {t: (emb[i], tokens[i], ids[i] if ids is not None else None) for i, t in enumerate(texts)}

    def encode_with_ids(self, texts: list[str], batch_size: int = 32,
                        ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray] | None]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._rows]
        if missing:
            from touchpoint.assistant.nlu.classifier import encode_views

            emb, tokens, ids = encode_views(self.inner, missing, batch_size)
            self._rows.update({t: (emb[i], tokens[i], ids[i] if ids is not None else None)
                               for i, t in enumerate(missing)})
        rows = [self._rows[t] for t in texts]
        ids_out = [r[2] for r in rows if r[2] is not None]
        return (np.stack([r[0] for r in rows]).astype(np.float32), [r[1] for r in rows],
                ids_out if len(ids_out) == len(rows) else None)

    def encode_with_tokens(self, texts: list[str], batch_size: int = 32, keep_tokens: bool = True,
                           ) -> tuple[np.ndarray, list[np.ndarray]]:
        emb, tokens, _ = self.encode_with_ids(texts, batch_size)
        return emb, tokens if keep_tokens else []

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.encode_with_ids(texts, batch_size)[0]


def holdout_folds(labels: list[str], folds: int = FOLDS, share: float = HOLDOUT_SHARE, seed: int = SEED,
                  ) -> list[list[int]]:
    """Indices held out in each fold: ~`share` of every intent with two examples or more, disjoint across folds,
    never all of an intent's examples (so every proxy knows every intent). An intent too small for another disjoint
    chunk sits the fold out. Pooling the folds matters because the thresholds sit in the tail of the held-out
    distribution: one fold's 2% tail is a few dozen examples, whose quantile moved by 0.05 in uncertainty from one
    random split to the next on BANKING77."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    shuffled = [rng.permutation(rows) for rows in by_label.values() if len(rows) >= 2]
    out: list[list[int]] = []
    for fold in range(folds):
        chosen: list[int] = []
        for rows in shuffled:
            size = max(1, round(len(rows) * share))
            if (fold + 1) * size > len(rows):
                continue  # size <= len(rows) - 1 whenever len(rows) >= 2: one example always stays in
            chosen.extend(rows[fold * size:(fold + 1) * size].tolist())
        if chosen:
            out.append(chosen)
    return out


def calibrate(model: IntentClassifier, texts: list[str], labels: list[str], reject_rate: float,
              encoded: tuple[np.ndarray, list[np.ndarray], Any] | None = None,
              encoded_texts: list[str] | None = None) -> dict[str, Any]:
    """Set `model.oos_threshold` and `model.similarity_threshold` from held-out training examples; returns what was
    measured on them (for the model's metadata). Thresholds stay at "never" when there is too little data.
    `encoded`: the encoder's output for `encoded_texts` (default `texts`), served again to the proxies."""
    from touchpoint.assistant.nlu.classifier import IntentClassifier

    folds = holdout_folds(labels)
    if reject_rate <= 0 or not folds:
        return {"skipped": "too few examples to hold some out" if reject_rate > 0 else "disabled"}
    encoder = model.encoder
    if encoder is not None and encoded is not None:
        encoder = _Memo(encoder, encoded_texts or texts, encoded)  # type: ignore[assignment]
    parts = []
    for held_fold in folds:
        held_set = set(held_fold)
        kept = [i for i in range(len(texts)) if i not in held_set]
        if len({labels[i] for i in kept}) < 2:
            continue
        proxy = IntentClassifier(encoder).fit([texts[i] for i in kept], [labels[i] for i in kept],
                                              calibrate=False, fusion=model.fusion)
        fold_probs, fold_nearest = proxy.scores([texts[i] for i in held_fold])
        index = {name: k for k, name in enumerate(proxy.intents)}
        # Every intent keeps an example in every fold, so all proxies share the final model's intent list.
        if proxy.intents != sorted(set(labels)):
            continue
        parts.append((fold_probs, fold_nearest, np.asarray([index[labels[i]] for i in held_fold])))
    if not parts:
        return {"skipped": "too few examples to hold some out"}
    probs = np.concatenate([p[0] for p in parts])
    nearest = np.concatenate([p[1] for p in parts])
    truth_index = np.concatenate([p[2] for p in parts])
    correct = probs.argmax(axis=1) == truth_index
    unsure = uncertainty(probs)
    budget = int(np.floor(reject_rate * len(truth_index)))
    on_similarity = int(np.floor(budget * SIMILARITY_SHARE))
    sims_ok = np.sort(nearest[correct])
    if not len(sims_ok):
        return {"skipped": "no held-out example was classified correctly"}
    # Reject strictly below: the threshold is the similarity of the first correct example that must be kept.
    model.similarity_threshold = float(sims_ok[min(on_similarity, len(sims_ok) - 1)])
    rest = np.sort(unsure[correct & (nearest >= model.similarity_threshold)])[::-1]
    spent = int((correct & (nearest < model.similarity_threshold)).sum())
    allowed = max(budget - spent, 0)
    model.oos_threshold = float(rest[min(allowed, len(rest) - 1)]) if len(rest) else 2.0
    rejected = (unsure > model.oos_threshold) | (nearest < model.similarity_threshold)
    model.temperature = fit_temperature(probs, truth_index)
    return {"held_out": len(truth_index), "folds": len(parts), "held_out_accuracy": round(float(correct.mean()), 4),
            "held_out_correct_rejected": round(float((rejected & correct).sum() / len(truth_index)), 4),
            "held_out_rejected": round(float(rejected.mean()), 4), "temperature": model.temperature}
