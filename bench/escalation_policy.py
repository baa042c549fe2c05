"""Escalation as the product decides it: the demo workspace's model (built-in intents plus the demo's own),
the default escalation policy, and every message of the realistic escalation sets through the same
signals → policy code the live assistant runs (assistant.evaluation.decide), one fresh conversation each.

    .venv/bin/python bench/escalation_policy.py

`dev_*` is tests/data/escalation_dev.csv (312 messages written before any model ran on them, then used to
develop the cues, the scorer's damping and the policy: optimistic); `real_*` is
tests/data/escalation_realistic.csv (its cue patterns were tuned on it: optimistic); `holdout_*` is
tests/data/escalation_holdout.csv, written before anything ran on it and never tuned on. `--words` measures
the words-only path (no trained model: cue patterns, request-a-person patterns and sentiment). `--scorer` measures
the escalation scorer alone as bench/nlu.py trains it (Bitext 80 % + BANKING77 train + built-in intents at weight
5; scorer_* keys, a few minutes). `--sets dev,real` leaves the holdout out (development runs).
Last line: policy_dev_recall=… policy_dev_precision=… policy_real_recall=… policy_real_precision=…
policy_holdout_recall=… policy_holdout_precision=… (keys end in `_words` under --words; start with `scorer_`
under --scorer)
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _demo_engine() -> Any:
    from touchpoint.assistant.intents.yaml_io import builtin_intents, parse_intents_yaml
    from touchpoint.assistant.nlu.engine import NluEngine, shared_encoder
    from touchpoint.assistant.training import DEFAULT_ESCALATE, train_model, training_intents
    from touchpoint.demo_data import INTENTS_FILE

    started = time.perf_counter()
    demo = parse_intents_yaml(INTENTS_FILE.read_text(encoding="utf-8"))
    intents = training_intents(demo, builtin_intents())
    engine = NluEngine(train_model(intents, escalate=DEFAULT_ESCALATE, encoder=shared_encoder()), ("en",))
    engine.warm_up()
    print(f"trained the demo model ({len(intents)} intents) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return engine


def _rows(path: Path) -> list[tuple[str, bool]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(row["text"], row["label"] == "escalate") for row in csv.DictReader(fh)]


def _words_only_decision(policy: Any, text: str) -> str:
    """The decision when no model is trained or installed: what the live assistant does then."""
    from touchpoint.assistant.policy.evaluate import evaluate
    from touchpoint.assistant.signals_builder import TurnContext, build_signals, words_only

    signals = build_signals(text, words_only(text), TurnContext(), served_languages=("en",), feedback=None)
    return evaluate(policy, signals).action


SETS = {"dev": ROOT / "tests/data/escalation_dev.csv", "real": ROOT / "tests/data/escalation_realistic.csv",
        "holdout": ROOT / "tests/data/escalation_holdout.csv"}


def _bench_scorer() -> Any:
    """The escalation scorer exactly as bench/nlu.py trains its "with built-in intents" one."""
    import yaml

    from touchpoint.assistant.nlu import datasets as ds
    from touchpoint.assistant.nlu.encoders import load_encoder
    from touchpoint.assistant.nlu.escalation import EscalationScorer

    data = ROOT.parent / "shared" / "data" / "nlu"
    train_t, train_y = ds.read_banking77(data / "banking77", "train")
    bitext_t, bitext_l = ds.read_bitext(data / "bitext" / "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    (esc_t, esc_l), _ = ds.stratified_split(bitext_t, bitext_l)
    builtin = yaml.safe_load((ROOT / "src/touchpoint/assistant/data/builtin_intents.yaml").read_text())
    builtin_t = [e for intent in builtin["intents"] for e in intent["examples"]]
    builtin_l = [f"builtin:{intent['name']}" for intent in builtin["intents"] for _ in intent["examples"]]
    escalating = frozenset([f"bitext:{i}" for i in ds.BITEXT_ESCALATE]
                           + [f"banking77:{i}" for i in ds.BANKING77_PAYMENT_PROBLEMS]
                           + [f"builtin:{i}" for i in ("human_request", "complaint", "payment_problem")])
    texts = esc_t + train_t + builtin_t
    labels = [f"bitext:{i}" for i in esc_l] + [f"banking77:{i}" for i in train_y] + builtin_l
    weights = [1.0] * (len(esc_t) + len(train_t)) + [5.0] * len(builtin_t)
    started = time.perf_counter()
    scorer = EscalationScorer(load_encoder()).fit(texts, labels, escalating, sample_weight=weights)
    print(f"trained the bench/nlu.py escalation scorer in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return scorer


def main() -> None:
    from touchpoint.assistant.evaluation import decide, policy_for

    args = sys.argv[1:]
    words, scorer_only = "--words" in args, "--scorer" in args
    names = args[args.index("--sets") + 1].split(",") if "--sets" in args else list(SETS)
    policy = policy_for(frozenset())
    prefix = "scorer" if scorer_only else "policy"
    if scorer_only:
        scorer = _bench_scorer()

        def verdict(text: str) -> str:
            return "escalate" if scorer.score(text).escalate else "answer"
    elif words:
        def verdict(text: str) -> str:
            return _words_only_decision(policy, text)
    else:
        engine = _demo_engine()

        def verdict(text: str) -> str:
            return decide(engine, policy, text, served_languages=("en",)).decision
    suffix = "_words" if words else ""
    figures = {}
    for name in names:
        rows = _rows(SETS[name])
        flagged = [verdict(text) == "escalate" for text, _ in rows]
        hits = sum(f and truth for f, (_, truth) in zip(flagged, rows, strict=True))
        recall = hits / max(sum(truth for _, truth in rows), 1)
        precision = hits / max(sum(flagged), 1)
        print(f"  {name}: {len(rows)} messages, recall {recall:.3f}, precision {precision:.3f}", file=sys.stderr)
        figures[f"{prefix}_{name}_recall{suffix}"], figures[f"{prefix}_{name}_precision{suffix}"] = recall, precision
    print(" ".join(f"{key}={value:.3f}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
