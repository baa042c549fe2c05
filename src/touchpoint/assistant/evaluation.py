"""`touchpoint assistant eval`: train a throw-away workspace model from a CSV, run every test message through
the live decision code (signals → escalation policy → decision), and score it the way Rasa and Dialogflow
users expect: accuracy and macro-F1, out-of-scope recall, escalation recall and precision.

Nothing here touches a database: the throw-away workspace is the trained model plus the default policy with
one extra rule sending the `--escalate` intents to a person.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from touchpoint.assistant.policy.evaluate import evaluate
from touchpoint.assistant.policy.rules import Conditions, EscalationPolicy, Rule, default_policy
from touchpoint.assistant.signals_builder import TurnContext, build_signals, from_understanding
from touchpoint.kit.errors import AppError

MAX_ROWS = 200_000
PREDICTION_COLUMNS = ("text", "label", "predicted", "score", "out_of_scope", "decision", "rule")


class EvaluationInputError(AppError):
    status_code = 422
    code = "invalid_evaluation_file"


@dataclass(frozen=True, slots=True)
class Prediction:
    text: str
    label: str
    predicted: str
    score: float
    out_of_scope: bool
    decision: str  # answer | flow | clarify | escalate
    rule: str


@dataclass(frozen=True, slots=True)
class Report:
    accuracy: float
    macro_f1: float
    in_scope_accuracy: float | None
    oos_recall: float | None
    escalation_recall: float | None
    escalation_precision: float | None
    predictions: tuple[Prediction, ...]

    def last_lines(self) -> list[str]:
        """The figures as the issue asks: percentages for accuracies, 0-1 for recall and precision."""
        lines = [f"accuracy={self.accuracy * 100:.2f} macro_f1={self.macro_f1 * 100:.2f}"]
        if self.oos_recall is not None and self.in_scope_accuracy is not None:
            lines.append(f"in_scope_accuracy={self.in_scope_accuracy * 100:.2f} oos_recall={self.oos_recall:.3f}")
        if self.escalation_recall is not None and self.escalation_precision is not None:
            lines.append(f"escalation_recall={self.escalation_recall:.3f} "
                         f"escalation_precision={self.escalation_precision:.3f}")
        return lines


def read_examples(path: Path) -> list[tuple[str, str]]:
    """`text,label` rows. A missing file, a missing column, an empty text or label names the row."""
    if not path.is_file():
        raise EvaluationInputError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = set(reader.fieldnames or ())
            if not {"text", "label"} <= columns:
                found = ", ".join(sorted(columns))
                raise EvaluationInputError(f"{path}: needs the columns text,label (found: {found})")
            rows: list[tuple[str, str]] = []
            for number, row in enumerate(reader, start=2):
                text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
                if not text or not label:
                    raise EvaluationInputError(f"{path}: line {number}: empty text or label")
                rows.append((text, label))
                if len(rows) > MAX_ROWS:
                    raise EvaluationInputError(f"{path}: more than {MAX_ROWS} rows")
    except UnicodeDecodeError as exc:
        raise EvaluationInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise EvaluationInputError(f"{path}: not a CSV file ({exc})") from exc
    if not rows:
        raise EvaluationInputError(f"{path}: no rows")
    return rows


def intents_from(rows: Iterable[tuple[str, str]], oos_label: str | None) -> list[tuple[str, list[str]]]:
    """Training rows grouped by label; rows labelled as out of scope teach nothing (there is no such intent)."""
    grouped: dict[str, list[str]] = {}
    for text, label in rows:
        if label != oos_label:
            grouped.setdefault(label, []).append(text)
    return sorted(grouped.items())


def policy_for(escalate: frozenset[str]) -> EscalationPolicy:
    """The default policy, with "these intents go to a person" first when asked."""
    policy = default_policy()
    if not escalate:
        return policy
    rule = Rule(name="escalate_intents", when=Conditions(intent=tuple(sorted(escalate))), action="escalate",
                team=None, priority=2, reason="intent handled by people")
    return replace(policy, rules=(rule, *policy.rules))


def decide(engine: Any, policy: EscalationPolicy, text: str, *, served_languages: tuple[str, ...] = (),
           oos_label: str | None = None) -> Prediction:
    """One message through the same code the live assistant runs, in a fresh conversation."""
    understood = from_understanding(engine.understand(text))
    signals = build_signals(text, understood, TurnContext(), served_languages=served_languages, feedback=None)
    verdict = evaluate(policy, signals)
    predicted = understood.intent or (oos_label or "")
    return Prediction(text=text, label="", predicted=predicted, score=round(understood.confidence, 4),
                      out_of_scope=understood.out_of_scope, decision=verdict.action, rule=verdict.rule)


def score(predictions: Sequence[Prediction], *, oos_label: str | None, escalate: frozenset[str]) -> Report:
    total = len(predictions)
    correct = sum(p.predicted == p.label for p in predictions)
    labels = sorted({p.label for p in predictions})
    f1s = []
    for label in labels:
        tp = sum(p.predicted == label and p.label == label for p in predictions)
        fp = sum(p.predicted == label and p.label != label for p in predictions)
        fn = sum(p.predicted != label and p.label == label for p in predictions)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    in_scope_accuracy = oos_recall = None
    if oos_label is not None:
        inside = [p for p in predictions if p.label != oos_label]
        outside = [p for p in predictions if p.label == oos_label]
        in_scope_accuracy = sum(p.predicted == p.label for p in inside) / len(inside) if inside else 0.0
        oos_recall = sum(p.out_of_scope for p in outside) / len(outside) if outside else 0.0
    recall = precision = None
    if escalate:
        truth = [p.label in escalate for p in predictions]
        flagged = [p.decision == "escalate" for p in predictions]
        hits = sum(t and f for t, f in zip(truth, flagged, strict=True))
        recall = hits / sum(truth) if any(truth) else 0.0
        precision = hits / sum(flagged) if any(flagged) else 0.0
    return Report(accuracy=correct / total if total else 0.0, macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
                  in_scope_accuracy=in_scope_accuracy, oos_recall=oos_recall, escalation_recall=recall,
                  escalation_precision=precision, predictions=tuple(predictions))


def run_evaluation(train: Path, test: Path, *, oos_label: str | None, escalate: frozenset[str],
                   encoder: Any) -> Report:
    from touchpoint.assistant.nlu.engine import NluEngine
    from touchpoint.assistant.training import train_model

    train_rows, test_rows = read_examples(train), read_examples(test)
    unknown = escalate - {label for _, label in train_rows}
    if unknown:
        raise EvaluationInputError(f"--escalate names labels that are not in {train}: {', '.join(sorted(unknown))}")
    model = train_model(intents_from(train_rows, oos_label), escalate=escalate, encoder=encoder)
    engine = NluEngine(model)
    engine.warm_up()
    policy = policy_for(escalate)
    predictions = [replace(decide(engine, policy, text, oos_label=oos_label), label=label)
                   for text, label in test_rows]
    return score(predictions, oos_label=oos_label, escalate=escalate)


def write_predictions(path: Path, predictions: Iterable[Prediction]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PREDICTION_COLUMNS)
        for p in predictions:
            writer.writerow([p.text, p.label, p.predicted, f"{p.score:.4f}", str(p.out_of_scope).lower(),
                             p.decision, p.rule])


def label_counts(rows: Iterable[tuple[str, str]]) -> Counter[str]:
    return Counter(label for _, label in rows)
