"""`touchpoint assistant eval|try|stories|train`, run as a user runs them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run

pytest.importorskip("numpy", reason="the nlu extra is not installed")

INTENTS = {
    "parking": ["is there parking", "where can I park my car", "do you have a garage", "how much is parking",
                "can I leave my car with you", "is there a car park nearby"],
    "breakfast": ["is breakfast included", "when is breakfast served", "what time is breakfast",
                  "do you serve breakfast", "can I have breakfast in my room", "is there a buffet in the morning"],
    "complaint": ["this is unacceptable", "my room was dirty and nobody cared", "worst stay of my life",
                  "I am very unhappy with the service", "the staff were rude to me", "I want to complain"],
}
TEST = [("where do I put my car", "parking"), ("breakfast hours?", "breakfast"), ("the room smelled awful and "
        "reception ignored me", "complaint"), ("what's the weather on mars", "oos"), ("tell me a joke", "oos")]


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_eval_prints_the_figures_and_writes_predictions(tmp_path):
    train = _csv(tmp_path / "train.csv", [(t, label) for label, texts in INTENTS.items() for t in texts])
    test = _csv(tmp_path / "test.csv", TEST)
    out = tmp_path / "predictions.csv"
    result = run("assistant", "eval", "--train", str(train), "--test", str(test), "--oos-label", "oos",
                 "--escalate", "complaint", "--predictions", str(out), timeout=180)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("accuracy=") and " macro_f1=" in lines[0]
    assert lines[1].startswith("in_scope_accuracy=") and " oos_recall=" in lines[1]
    assert lines[2].startswith("escalation_recall=") and " escalation_precision=" in lines[2]
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["text", "label", "predicted", "score", "out_of_scope", "decision", "rule"]
    assert len(rows) == len(TEST)
    complaint = next(r for r in rows if r["label"] == "complaint")
    assert complaint["decision"] == "escalate" and complaint["rule"]
    assert {r["decision"] for r in rows} <= {"answer", "flow", "clarify", "escalate"}


def test_eval_refuses_bad_files_with_the_reason(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,intent\nhello,greeting\n", encoding="utf-8")
    result = run("assistant", "eval", "--train", str(bad), "--test", str(bad))
    assert result.returncode == 2 and "needs the columns text,label" in result.stderr
    missing = run("assistant", "eval", "--train", str(tmp_path / "nope.csv"), "--test", str(bad))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    good = _csv(tmp_path / "train.csv", [(t, label) for label, texts in INTENTS.items() for t in texts])
    unknown = run("assistant", "eval", "--train", str(good), "--test", str(good), "--escalate", "refund")
    assert unknown.returncode == 2 and "refund" in unknown.stderr


def test_try_and_stories_against_the_demo_workspace(tmp_path):
    assert run("demo", "--no-serve", "--data-dir", str(tmp_path)).returncode == 0
    env = {"TOUCHPOINT_DATA_DIR": str(tmp_path)}
    tried = run("assistant", "try", "I want to talk to a person", env=env)
    assert tried.returncode == 0, tried.stderr
    decision = json.loads(tried.stdout)
    assert decision["decision"] == "escalate" and decision["handoff"]["team_slug"] == "service"
    assert decision["model_status"]["warning"]  # not trained yet: it says so

    stories = tmp_path / "stories.yaml"
    stories.write_text("stories:\n  - name: a person\n    steps:\n      - customer: get me a human please\n"
                       "        expect: {decision: escalate, team: service}\n"
                       "  - name: wrong on purpose\n    steps:\n      - customer: get me a human please\n"
                       "        expect: {decision: answer}\n", encoding="utf-8")
    ran = run("assistant", "stories", str(stories), env=env)
    assert ran.returncode == 1, ran.stderr
    assert "PASS a person" in ran.stdout and "FAIL wrong on purpose" in ran.stdout
    assert "expected decision answer, got escalate" in ran.stdout
    assert ran.stdout.strip().splitlines()[-1] == "stories=2 passed=1 failed=1"

    stories.write_text("stories:\n  - name: x\n    steps:\n      - customer: hi\n        expect: {decison: answer}\n",
                       encoding="utf-8")
    broken = run("assistant", "stories", str(stories), env=env)
    assert broken.returncode == 2 and "line 5" in broken.stderr and "decison" in broken.stderr
