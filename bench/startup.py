"""Time to serving and idle memory of `touchpoint demo`, the newcomer's first command.

    .venv/bin/python bench/startup.py [--idle 5] [--runs 1] [--answer]

First start on an empty data dir (migrations, demo workspace with three argon2-hashed agent passwords,
then serving) and a second start on the same data dir; each measured from launching the command to the
first 200 from /readyz (database, migrations and background loops all up). Idle RSS is the server
process's resident memory after `--idle` seconds of doing nothing. Last line: serving_s=… idle_rss_mb=…
(serving_s is the first start; restart_s the second).

By default the demo's assistant model is not trained (the bench environment turns training off), so
idle_rss_mb is the platform alone. With `--answer` the first start trains it as `touchpoint demo` does
for a newcomer (in a background thread after start), the bench waits until the trained version is
active, chats through the widget's HTTP endpoints (a few questions, each answered by the bot with the
model loaded), idles `--idle` seconds and reads RSS again: answering_rss_mb (also trained_s, the seconds
from the command to the active model, and peak_rss_mb, the process's high-water mark).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from _support import (
    add_run_options,
    free_port,
    repeat_runs,
    rss_mb,
    say,
    stop_process,
    touchpoint_cmd,
    touchpoint_env,
    wait_until_ready,
)

QUESTIONS = ["Is breakfast included?", "What time is check-in?", "Can I bring my dog?", "Do you have wifi?",
             "I want to talk to a person"]
WIDGET_KEY = "demo-widget"


def start(data_dir: Path, log: Path, *, train: bool = False) -> tuple[subprocess.Popen[bytes], float, int]:
    port = free_port()
    started = time.monotonic()
    extra = {"TOUCHPOINT_ASSISTANT_TRAINING": "true"} if train else {}
    with log.open("ab") as out:
        proc = subprocess.Popen(touchpoint_cmd("demo", "--port", str(port), "--data-dir", str(data_dir)),
                                stdout=out, stderr=subprocess.STDOUT, env=touchpoint_env(data_dir, port, **extra),
                                cwd=data_dir.parent)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", proc, timeout=60, log=log)
    except BaseException:
        stop_process(proc)
        raise
    return proc, time.monotonic() - started, port


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for_model(db: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the demo workspace has an active, ready model version (the training worker's last step)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the demo server exited while its model was training")
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                rows = conn.execute("SELECT status, error FROM assistant_models").fetchall()
        except sqlite3.OperationalError:
            rows = []
        if any(status == "ready" for status, _ in rows):
            return
        failed = [error for status, error in rows if status == "failed"]
        if failed:
            raise RuntimeError(f"the demo's model training failed: {failed[-1]}")
        time.sleep(0.5)
    raise TimeoutError(f"no trained model after {timeout:.0f} s")


def _call(port: int, method: str, path: str, body: dict[str, Any] | None = None,
          token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", "sec-fetch-site": "same-origin"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]


def chat(port: int, questions: list[str], timeout: float = 60.0) -> int:
    """One widget visitor asks each question and waits for a bot reply to it; returns the replies seen."""
    token = _call(port, "POST", "/widget/v1/session", {"account": WIDGET_KEY})["session_token"]
    replies = 0
    for question in questions:
        _call(port, "POST", "/widget/v1/messages", {"client_id": uuid.uuid4().hex, "text": question}, token)
        deadline = time.monotonic() + timeout
        while True:
            messages = _call(port, "GET", "/widget/v1/messages", token=token)["messages"]
            answered = sum(1 for m in messages if m.get("sender_kind", m.get("sender")) != "contact")
            if answered > replies:
                replies = answered
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {question!r} within {timeout:.0f} s")
            time.sleep(0.2)
    return replies


def run_once(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    data_dir = workdir / "data"
    proc, first, port = start(data_dir, workdir / "demo.log", train=args.answer)
    launched = time.monotonic() - first
    figures: dict[str, Any] = {}
    try:
        time.sleep(args.idle)
        rss = rss_mb(proc.pid)
        if args.answer:
            wait_for_model(data_dir / "touchpoint.db", proc, timeout=args.train_timeout)
            trained = time.monotonic() - launched
            replies = chat(port, QUESTIONS)
            time.sleep(args.idle)
            figures = {"trained_s": round(trained, 1), "answering_rss_mb": round(rss_mb(proc.pid), 1),
                       "peak_rss_mb": round(peak_rss_mb(proc.pid), 1)}
            say(f"  model active {trained:.1f} s after the command; {replies} replies to {len(QUESTIONS)} "
                f"questions; RSS {figures['answering_rss_mb']:.0f} MB {args.idle:g} s later "
                f"(peak {figures['peak_rss_mb']:.0f} MB)")
    finally:
        stop_process(proc)
    proc, again, _ = start(data_dir, workdir / "demo.log")
    stop_process(proc)
    say(f"  first start {first:.2f} s, restart {again:.2f} s, idle RSS {rss:.0f} MB after {args.idle:g} s")
    return {"serving_s": first, "idle_rss_mb": round(rss, 1), "restart_s": again, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds to wait before reading RSS")
    parser.add_argument("--answer", action="store_true",
                        help="train the demo's model as `touchpoint demo` does, chat with it, then read RSS")
    parser.add_argument("--train-timeout", type=float, default=600.0, help="seconds to wait for the trained model")
    add_run_options(parser, keep_what="log, database")
    args = parser.parse_args()
    repeat_runs(args, "startup", run_once, print_each=False)


if __name__ == "__main__":
    main()
