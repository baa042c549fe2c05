"""Webhook ingest: how fast `touchpoint serve` verifies, stores and acknowledges signed webhooks, next to
a bare baseline measured in the same run on the same machine.

    .venv/bin/python bench/ingest.py [--duration 10] [--rate 1000] [--rate-duration 10] [--runs 1]

For each server (first the baseline of bench/_baseline_app.py, then Touchpoint on a fresh SQLite data dir
with its background loops running as in production, so the processor and the dispatcher compete for the
database and the CPU as they would):
  1. open loop: `--rate` signed webhooks per second for `--rate-duration` seconds over `--open-connections`
     keep-alive connections; p50/p99 acknowledgement latency counted from each request's scheduled time;
  2. closed loop: `--connections` keep-alive clients post back to back for `--duration` seconds; the
     sustained rate is 200 answers per second after the warm-up.
The load comes from a separate process (bench/_support.py Driver), which also hosts the fake brand
endpoint the bot's replies go to. Last line: ingest_per_s=… baseline_per_s=… ratio=… p50_ms=… p99_ms=…
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from _support import (
    Driver,
    add_run_options,
    cpu_seconds,
    free_port,
    new_secrets,
    percentile,
    prepare_touchpoint,
    profiled,
    receiver_paths,
    repeat_runs,
    say,
    server_process,
    touchpoint_cmd,
    touchpoint_env,
)

HERE = Path(__file__).resolve().parent


def measure(driver: Driver, target: dict[str, Any], args: argparse.Namespace, label: str, pid: int) -> dict[str, Any]:
    opened = driver.call("open_loop", target=target, rate=args.rate, duration=args.rate_duration, warmup=1.0,
                         connections=args.open_connections, senders=args.senders, prefix=f"{label}-open")
    cpu_before = cpu_seconds(pid)
    closed = driver.call("closed_loop", target=target, connections=args.connections, duration=args.duration,
                         warmup=min(2.0, args.duration / 4), senders=args.senders, prefix=f"{label}-closed")
    cpu = cpu_seconds(pid) - cpu_before
    latencies = opened["latencies"]
    not_ok = sum(n for status, n in {**opened["statuses"]}.items() if status != 200) + opened["errors"]
    not_ok += sum(n for status, n in closed["statuses"].items() if status != 200) + closed["errors"]
    say(f"  {label}: closed loop {closed['rate']:.0f}/s {closed['statuses']}, server CPU {cpu:.1f} s in "
        f"{args.duration:.0f} s; open loop at {args.rate}/s "
        f"p50={percentile(latencies, 50) * 1000:.1f} ms p99={percentile(latencies, 99) * 1000:.1f} ms "
        f"max={max(latencies, default=0) * 1000:.1f} ms {opened['statuses']}")
    return {"rate": closed["rate"], "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000,
            "not_ok": not_ok}


def run_once(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secrets = new_secrets(1)
    with Driver(receiver_paths(secrets)) as driver:
        port = free_port()
        baseline_cmd = [sys.executable, str(HERE / "_baseline_app.py"), "--port", str(port),
                        "--db", str(workdir / "baseline.db"), "--secret", secrets[0]]
        with server_process(baseline_cmd, ready_url=f"http://127.0.0.1:{port}/readyz",
                            log=workdir / "baseline.log") as proc:
            base = measure(driver, {"port": port, "path": "/webhooks/api/x", "secret": secrets[0]}, args, "baseline",
                           proc.pid)

        data_dir = workdir / "touchpoint"
        _, accounts = prepare_touchpoint(data_dir, driver.port, secrets)
        port = free_port()
        env = touchpoint_env(data_dir, port)
        with server_process(touchpoint_cmd("serve", *(["--no-dispatch"] if args.no_background else [])),
                            ready_url=f"http://127.0.0.1:{port}/{'healthz' if args.no_background else 'readyz'}",
                            log=workdir / "touchpoint.log", env=env,
                            cwd=workdir) as proc, profiled(proc.pid, args.profile and args.profile / "ingest.txt"):
            ours = measure(driver, {"port": port, "path": f"/webhooks/api/{accounts[0].key}",
                                    "secret": secrets[0]}, args, "touchpoint", proc.pid)
            replies = driver.call("stats")["arrivals"]
        processed = _processed(data_dir / "touchpoint.db")
        say(f"  touchpoint: {processed['stored']} events stored, {processed['done']} processed by the inbound "
            f"loop during the run, {replies} bot replies delivered to the fake brand")
    return {"ingest_per_s": round(ours["rate"]), "baseline_per_s": round(base["rate"]),
            "ratio": ours["rate"] / base["rate"], "p50_ms": ours["p50"], "p99_ms": ours["p99"],
            "baseline_p99_ms": base["p99"], "rate": args.rate, "not_ok": ours["not_ok"]}


def _processed(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT status, count(*) FROM inbound_events GROUP BY status").fetchall())
    return {"stored": sum(rows.values()), "done": rows.get("done", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="closed-loop seconds per server")
    parser.add_argument("--connections", type=int, default=32, help="closed-loop keep-alive connections")
    parser.add_argument("--rate", type=int, default=1000, help="open-loop requests per second")
    parser.add_argument("--rate-duration", type=float, default=10.0, help="open-loop seconds per server")
    parser.add_argument("--open-connections", type=int, default=128)
    parser.add_argument("--senders", type=int, default=2000, help="distinct customers the webhooks come from")
    add_run_options(parser, keep_what="logs, databases")
    parser.add_argument("--no-background", action="store_true",
                        help="serve --no-dispatch: webhooks only, nothing processes them (to separate the costs)")
    args = parser.parse_args()
    repeat_runs(args, "ingest", run_once)


if __name__ == "__main__":
    main()
