"""Time to serving and idle memory of `touchpoint demo`, the newcomer's first command.

    .venv/bin/python bench/startup.py [--idle 5] [--runs 1]

First start on an empty data dir (migrations, demo workspace with three argon2-hashed agent passwords,
then serving) and a second start on the same data dir; each measured from launching the command to the
first 200 from /readyz (database, migrations and background loops all up). Idle RSS is the server
process's resident memory after `--idle` seconds of doing nothing. Last line: serving_s=… idle_rss_mb=…
(serving_s is the first start; restart_s the second).
"""

from __future__ import annotations

import argparse
import subprocess
import time
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


def start(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    port = free_port()
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(touchpoint_cmd("demo", "--port", str(port), "--data-dir", str(data_dir)),
                                stdout=out, stderr=subprocess.STDOUT, env=touchpoint_env(data_dir, port),
                                cwd=data_dir.parent)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", proc, timeout=60, log=log)
    except BaseException:
        stop_process(proc)
        raise
    return proc, time.monotonic() - started


def run_once(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    data_dir = workdir / "data"
    proc, first = start(data_dir, workdir / "demo.log")
    try:
        time.sleep(args.idle)
        rss = rss_mb(proc.pid)
    finally:
        stop_process(proc)
    proc, again = start(data_dir, workdir / "demo.log")
    stop_process(proc)
    say(f"  first start {first:.2f} s, restart {again:.2f} s, idle RSS {rss:.0f} MB after {args.idle:g} s")
    return {"serving_s": first, "idle_rss_mb": round(rss, 1), "restart_s": again}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds to wait before reading RSS")
    add_run_options(parser, keep_what="log, database")
    args = parser.parse_args()
    repeat_runs(args, "startup", run_once, print_each=False)


if __name__ == "__main__":
    main()
