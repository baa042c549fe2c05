"""Benchmark of the understanding engine (issue 3): BANKING77 full and 10-shot accuracy, out-of-scope catch rate,
escalation recall/precision on Bitext and on the hand-written realistic set, latency, load and training time.

    .venv/bin/python bench/nlu.py [--quick] [--no-model] [--data ../shared/data/nlu]

The last line is machine-readable (the issue's keys, then the held-out realistic set's):
banking77_full=… banking77_10shot=… oos_recall=… escalation_recall=… escalation_precision=…
real_escalation_recall=… real_escalation_precision=… p99_ms=… holdout_escalation_recall=…
holdout_escalation_precision=…

Honesty notes: fusion weights were chosen on BANKING77 *training* examples held out from fitting, and the
out-of-scope thresholds are calibrated inside `fit` on training data only (never on a test set). The escalation
scorer is trained as the product trains it: on the built-in intents (assistant/data/builtin_intents.yaml, whose
complaint / human_request / payment_problem examples escalate) next to Bitext and BANKING77. Two realistic sets:
`real_*` is tests/data/escalation_realistic.csv, on which the cues (src/touchpoint/assistant/nlu/cues.py) were
tuned and which the built-in examples paraphrase in places, so it is optimistic; `holdout_*` is
tests/data/escalation_holdout.csv, written before any model was run on it and never tuned on. The line "without
built-in intents" shows the scorer trained on Bitext and BANKING77 alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from touchpoint.assistant.nlu import datasets as ds  # noqa: E402
from touchpoint.assistant.nlu.classifier import IntentClassifier  # noqa: E402
from touchpoint.assistant.nlu.encoders import load_encoder  # noqa: E402
from touchpoint.assistant.nlu.engine import NluEngine  # noqa: E402
from touchpoint.assistant.nlu.escalation import EscalationScorer  # noqa: E402
from touchpoint.assistant.nlu.store import ModelStore, NluModel  # noqa: E402

HELD_OUT_INTENTS = 15  # BANKING77 intents treated as "unsupported" for the out-of-scope test
BUILTIN_ESCALATE = ("human_request", "complaint", "payment_problem")  # as assistant/training.py DEFAULT_ESCALATE
BUILTIN_WEIGHT = 5.0  # chosen among 1, 5, 20 on Bitext and escalation_realistic.csv, never on the holdout set


class CachingEncoder:
    """Bench-only memo around the real encoder: every stage re-encodes the same BANKING77 texts."""

    def __init__(self, inner) -> None:
        self.inner, self.encoder_id, self.dim = inner, inner.encoder_id, inner.dim
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def encode_with_ids(self, texts, batch_size=32):
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            emb, toks, ids = self.inner.encode_with_ids(missing, batch_size)
            self._cache.update({t: (emb[i], toks[i], ids[i]) for i, t in enumerate(missing)})
        rows = [self._cache[t] for t in texts]
        emb = np.stack([r[0] for r in rows]) if rows else np.zeros((0, self.dim), np.float32)
        return emb, [r[1] for r in rows], [r[2] for r in rows]

    def encode_with_tokens(self, texts, batch_size=32, keep_tokens=True):
        emb, toks, _ = self.encode_with_ids(texts, batch_size)
        return emb, toks if keep_tokens else []

    def encode(self, texts, batch_size=32):
        return self.encode_with_ids(texts, batch_size)[0]


def accuracy(model: IntentClassifier, texts: list[str], labels: list[str]) -> float:
    predictions = model.predict_many(texts)
    return 100.0 * sum(p.best_intent == y for p, y in zip(predictions, labels, strict=True)) / len(labels)


def recall_precision(flags: list[bool], truth: list[bool]) -> tuple[float, float]:
    tp = sum(f and t for f, t in zip(flags, truth, strict=True))
    return tp / max(sum(truth), 1), tp / max(sum(flags), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nlu")
    parser.add_argument("--quick", action="store_true", help="small subsets, one few-shot seed (~1-2 minutes)")
    parser.add_argument("--no-model", action="store_true", help="measure the n-gram fallback (no encoder)")
    args = parser.parse_args()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, {'quick' if args.quick else 'full'} run")

    raw = None if args.no_model else load_encoder()
    encoder = CachingEncoder(raw) if raw is not None else None
    log(f"encoder: {raw.encoder_id if raw else 'none (n-gram fallback)'}")
    train_t, train_y = ds.read_banking77(args.data / "banking77", "train")
    test_t, test_y = ds.read_banking77(args.data / "banking77", "test")
    if args.quick:
        train_t, train_y = ds.few_shot(train_t, train_y, 40, seed=1)
        test_t, test_y = ds.few_shot(test_t, test_y, 10, seed=1)

    # 1. Full data.
    started = time.perf_counter()
    full = IntentClassifier(encoder).fit(train_t, train_y)
    full_train_s = time.perf_counter() - started
    full_acc = accuracy(full, test_t, test_y)
    log(f"banking77 full: {full_acc:.2f}% (train {full_train_s:.1f}s on {len(train_t)} examples)")

    # 2. 10-shot, mean of 5 seeds (1 in --quick).
    shots = []
    for seed in range(1 if args.quick else 5):
        few_t, few_y = ds.few_shot(train_t, train_y, 10, seed)
        started = time.perf_counter()
        few = IntentClassifier(encoder).fit(few_t, few_y)
        shots.append(accuracy(few, test_t, test_y))
        log(f"banking77 10-shot seed {seed}: {shots[-1]:.2f}% (train {time.perf_counter() - started:.1f}s)")
    few_acc = statistics.mean(shots)
    log(f"banking77 10-shot: {few_acc:.2f} ± {statistics.pstdev(shots):.2f}")

    # 3. Out-of-scope: intents held out of training; threshold from training data (leave-one-out), not the test.
    intents = sorted(set(train_y))
    held = set(random.Random(0).sample(intents, HELD_OUT_INTENTS))
    in_t = [t for t, y in zip(train_t, train_y, strict=True) if y not in held]
    in_y = [y for y in train_y if y not in held]
    oos_model = IntentClassifier(encoder).fit(in_t, in_y)
    predictions = oos_model.predict_many(test_t)
    in_scope = [y not in held for y in test_y]
    in_preds = [(p, y) for p, y, keep in zip(predictions, test_y, in_scope, strict=True) if keep]
    acc_before = 100.0 * sum(p.best_intent == y for p, y in in_preds) / len(in_preds)
    acc_after = 100.0 * sum(p.intent == y for p, y in in_preds) / len(in_preds)
    oos_preds = [p for p, keep in zip(predictions, in_scope, strict=True) if not keep]
    oos_recall = sum(p.out_of_scope for p in oos_preds) / len(oos_preds)
    log(f"out-of-scope ({HELD_OUT_INTENTS} intents held out): caught {oos_recall:.3f} of {len(oos_preds)}; in-scope "
        f"accuracy {acc_before:.2f} -> {acc_after:.2f} (drop {acc_before - acc_after:.2f} points); calibration on "
        f"training data: {oos_model.meta['oos_calibration']}")

    # 4. Escalation: Bitext 80/20 split + BANKING77 train (+ the built-in intents, as the product trains), scored on
    # the Bitext 20% and on both realistic sets.
    bt, bl = ds.read_bitext(args.data / "bitext" / "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    (esc_train_t, esc_train_l), (esc_test_t, esc_test_l) = ds.stratified_split(bt, bl)
    builtin = yaml.safe_load((ROOT / "src" / "touchpoint" / "assistant" / "data" / "builtin_intents.yaml").read_text())
    builtin_t = [e for intent in builtin["intents"] for e in intent["examples"]]
    builtin_l = [f"builtin:{intent['name']}" for intent in builtin["intents"] for _ in intent["examples"]]
    escalating = frozenset([f"bitext:{i}" for i in ds.BITEXT_ESCALATE]
                           + [f"banking77:{i}" for i in ds.BANKING77_PAYMENT_PROBLEMS]
                           + [f"builtin:{i}" for i in BUILTIN_ESCALATE])
    base_t = esc_train_t + train_t
    base_l = [f"bitext:{i}" for i in esc_train_l] + [f"banking77:{i}" for i in train_y]
    truth = [label in ds.BITEXT_ESCALATE for label in esc_test_l]
    real_t, real_l = ds.read_labelled_csv(ROOT / "tests" / "data" / "escalation_realistic.csv")
    hold_t, hold_l = ds.read_labelled_csv(ROOT / "tests" / "data" / "escalation_holdout.csv")
    figures = {}
    for name, with_builtin in (("without built-in intents", False), ("with built-in intents", True)):
        started = time.perf_counter()
        texts, labels = (base_t + builtin_t, base_l + builtin_l) if with_builtin else (base_t, base_l)
        # The ~140 hand-written built-in examples would vanish among 13,000 generated ones without a weight.
        weights = [1.0] * len(base_t) + [BUILTIN_WEIGHT] * (len(texts) - len(base_t))
        scorer = EscalationScorer(encoder).fit(texts, labels, escalating, sample_weight=weights)
        fit_s = time.perf_counter() - started
        row = {"bitext": recall_precision([s.escalate for s in scorer.score_many(esc_test_t)], truth)}
        for set_name, (set_t, set_l) in (("real", (real_t, real_l)), ("holdout", (hold_t, hold_l))):
            scores = scorer.score_many(set_t)
            set_truth = [label == ds.ESCALATE for label in set_l]
            row[set_name] = recall_precision([s.escalate for s in scores], set_truth)
            row[f"{set_name}_model"] = recall_precision([s.model_probability >= scorer.threshold for s in scores],
                                                        set_truth)
        figures[name], product_scorer = row, scorer
        log(f"escalation {name} (train {fit_s:.1f}s): " + "; ".join(
            f"{k} recall {r:.3f} precision {p:.3f}" for k, (r, p) in row.items())
            + "  (*_model: the trained model alone, no cues)")
    product = figures["with built-in intents"]
    (esc_recall, esc_precision), (real_recall, real_precision) = product["bitext"], product["real"]
    hold_recall, hold_precision = product["holdout"]

    # 5. Save, load (timed, with a fresh encoder as a new process would) and per-message latency.
    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(tmp)
        store.save(NluModel(full, product_scorer, {"banking77_full": round(full_acc, 2)}))
        started = time.perf_counter()
        fresh = None if args.no_model else load_encoder()
        loaded = store.load(fresh)
        load_s = time.perf_counter() - started
    engine = NluEngine(loaded, languages=("en",))
    engine.warm_up()
    sample = random.Random(3).sample(test_t, min(len(test_t), 300 if args.quick else 1000)) + real_t + hold_t
    for text in sample[:50]:  # after warm-up: first calls pay for lazy initialisation, not what a customer waits
        engine.understand(text)
    passes = []
    load_before = os.getloadavg()[0]
    for _ in range(1 if args.quick else 3):
        times, cpu = [], []
        for text in sample:
            started, cpu_started = time.perf_counter(), time.process_time()
            engine.understand(text)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        passes.append((float(np.percentile(times, 50)), float(np.percentile(times, 99)),
                       float(np.percentile(cpu, 50)), float(np.percentile(cpu, 99))))
    # Median over passes of each pass's percentile: one burst of another process on the shared cores moves one
    # pass, not the figure. Wall time is what a customer waits; CPU time (summed over onnxruntime's threads) shows
    # the work itself when other processes compete for the two cores.
    p50, p99, cpu50, cpu99 = (statistics.median(p[i] for p in passes) for i in range(4))
    log(f"latency per message (language + intent + out-of-scope + escalation), {len(passes)} passes over "
        f"{len(sample)} messages: p50 {p50:.2f} ms, p99 {p99:.2f} ms wall (p99 per pass: "
        f"{', '.join(f'{p[1]:.2f}' for p in passes)}); CPU time p50 {cpu50:.2f} ms, p99 {cpu99:.2f} ms; "
        f"load average {load_before:.2f} -> {os.getloadavg()[0]:.2f}; model load {load_s:.2f}s (encoder + version)")

    print(f"banking77_full={full_acc:.2f} banking77_10shot={few_acc:.2f} oos_recall={oos_recall:.3f} "
          f"escalation_recall={esc_recall:.3f} escalation_precision={esc_precision:.3f} "
          f"real_escalation_recall={real_recall:.3f} real_escalation_precision={real_precision:.3f} p99_ms={p99:.2f} "
          f"holdout_escalation_recall={hold_recall:.3f} holdout_escalation_precision={hold_precision:.3f}")


if __name__ == "__main__":
    main()
