"""Escalation as the product decides it: the demo workspace's model (built-in intents plus the demo's own),
the default escalation policy, and every message of the realistic escalation sets through the same
signals → policy code the live assistant runs (assistant.evaluation.decide), one fresh conversation each.

    .venv/bin/python bench/escalation_policy.py

`real_*` is tests/data/escalation_realistic.csv (its cue patterns were tuned on it: optimistic); `holdout_*`
is tests/data/escalation_holdout.csv, written before anything ran on it and never tuned on.
Last line: policy_real_recall=… policy_real_precision=… policy_holdout_recall=… policy_holdout_precision=…
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rows(path: Path) -> list[tuple[str, bool]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(row["text"], row["label"] == "escalate") for row in csv.DictReader(fh)]


def main() -> None:
    from touchpoint.assistant.evaluation import decide, policy_for
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
    policy = policy_for(frozenset())
    figures = {}
    for name, path in (("real", ROOT / "tests/data/escalation_realistic.csv"),
                       ("holdout", ROOT / "tests/data/escalation_holdout.csv")):
        rows = _rows(path)
        flagged = [decide(engine, policy, text, served_languages=("en",)).decision == "escalate" for text, _ in rows]
        hits = sum(f and truth for f, (_, truth) in zip(flagged, rows, strict=True))
        recall = hits / max(sum(truth for _, truth in rows), 1)
        precision = hits / max(sum(flagged), 1)
        print(f"  {name}: {len(rows)} messages, recall {recall:.3f}, precision {precision:.3f}", file=sys.stderr)
        figures[f"policy_{name}_recall"], figures[f"policy_{name}_precision"] = recall, precision
    print(" ".join(f"{key}={value:.3f}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
