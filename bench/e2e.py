"""End to end: a signed webhook in, the bot's answer out at the brand's endpoint. `touchpoint serve` runs
on a fresh SQLite data dir with one custom API channel account whose outbound_url is a fast fake brand
endpoint in the driver process (bench/_support.py), which also plays the customers.

    .venv/bin/python bench/e2e.py [--rate 200] [--rate-duration 10] [--customers 200] [--duration 15] [--runs 1]

  1. latency at a fixed rate (open loop): `--rate` questions per second from `--senders` distinct customers
     for `--rate-duration` seconds; the latency of each answer runs from the question's scheduled send time
     to the answer's arrival at the fake brand (one machine, one monotonic clock);
  2. sustained rate (closed loop): `--customers` people chat at once, each asking the next question as soon
     as the previous answer arrives, for `--duration` seconds; the rate is answers per second after warm-up.
Every question is one the demo FAQ answers, so each gets exactly one reply. The demo's assistant model is
trained before the server starts (the real assistant: intents, escalation policy, knowledge base);
`--words-only` measures it without a model. `--database-url` runs it on PostgreSQL (a fresh schema), with
`--workers N` as `serve --no-dispatch` plus N `touchpoint worker` processes (`--redis-url` wakes them at once
instead of at their next poll). The account's rate limit is
raised to `--account-rate` (the default 50/s of the custom API channel would be the figure otherwise).
Last line: e2e_per_s=… p99_ms=… (and p50, webhook-ack p99, missing answers).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _support import (
    Driver,
    add_run_options,
    cpu_seconds,
    free_port,
    new_secrets,
    percentile,
    postgres_schema,
    prepare_touchpoint,
    profiled,
    receiver_paths,
    repeat_runs,
    say,
    server_process,
    touchpoint_cmd,
    touchpoint_env,
    worker_processes,
)


def run_once(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secrets = new_secrets(1)
    with Driver(receiver_paths(secrets)) as driver, postgres_schema(args.database_url) as database:
        data_dir = workdir / "touchpoint"
        _, accounts = prepare_touchpoint(data_dir, driver.port, secrets,
                                         extra_settings={"rate_per_second": args.account_rate},
                                         train=not args.words_only, database=database)
        port = free_port()
        target = {"port": port, "path": f"/webhooks/api/{accounts[0].key}", "secret": secrets[0]}
        extra = {}
        if database:
            extra = {"TOUCHPOINT_DATABASE_URL": database["url"], "TOUCHPOINT_DATABASE_SCHEMA": database["schema"]}
        if args.redis_url:
            extra["TOUCHPOINT_REDIS_URL"] = args.redis_url
        env = touchpoint_env(data_dir, port, **extra)
        serve = touchpoint_cmd("serve", *(["--no-dispatch"] if args.workers else []))
        with server_process(serve, ready_url=f"http://127.0.0.1:{port}/readyz", log=workdir / "touchpoint.log",
                            env=env, cwd=workdir) as server, \
                worker_processes(args.workers, env=env, workdir=workdir) as workers, \
                profiled(server.pid, args.profile and args.profile / "e2e.txt"):
            pids = [server.pid, *(w.pid for w in workers)]
            fixed = driver.call("conversations_open", target=target, rate=args.rate, duration=args.rate_duration,
                                warmup=1.0, connections=64, senders=args.senders, prefix="fixed",
                                reply_timeout=30.0)
            replies = fixed["reply_latencies"]
            say(f"  at {args.rate}/s: {len(replies)} answers measured, p50={percentile(replies, 50) * 1000:.1f} ms "
                f"p99={percentile(replies, 99) * 1000:.1f} ms max={max(replies, default=0) * 1000:.1f} ms; "
                f"webhook ack p99={percentile(fixed['ack_latencies'], 99) * 1000:.1f} ms; "
                f"missing answers {fixed['missing_replies']} of {fixed['sent']}; {fixed['statuses']}")
            driver.call("reset")
            cpu_before = sum(cpu_seconds(pid) for pid in pids)
            sustained = driver.call("conversations", target=target, customers=args.customers,
                                    duration=args.duration, warmup=min(3.0, args.duration / 4), prefix="chat")
            say(f"  {args.customers} customers chatting: {sustained['rate']:.0f} answers/s, "
                f"p50={sustained['p50'] * 1000:.0f} ms p99={sustained['p99'] * 1000:.0f} ms, "
                f"{sustained['timeouts']} unanswered, {sustained['errors']} refused webhooks")
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
            stats = driver.call("stats")
            say(f"  Touchpoint CPU (server and workers; not the database's) during the sustained phase: "
                f"{cpu:.1f} s of {args.duration:.0f} s "
                f"({cpu / max(stats['arrivals'], 1) * 1000:.2f} ms per answer)")
    return {"e2e_per_s": round(sustained["rate"]), "p99_ms": percentile(replies, 99) * 1000,
            "p50_ms": percentile(replies, 50) * 1000, "ack_p99_ms": percentile(fixed["ack_latencies"], 99) * 1000,
            "rate": args.rate, "missing": fixed["missing_replies"] + sustained["timeouts"],
            "bad_signatures": stats["bad_signatures"], "cpu_ms_per_answer": cpu / max(stats["arrivals"], 1) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=200, help="questions per second in the latency phase")
    parser.add_argument("--words-only", action="store_true",
                        help="no trained understanding model: the assistant answers by words (knowledge base, cues)")
    parser.add_argument("--rate-duration", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=1000, help="distinct customers in the latency phase")
    parser.add_argument("--customers", type=int, default=200, help="people chatting at once (sustained phase)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of the sustained phase")
    parser.add_argument("--account-rate", type=float, default=5000.0, help="rate_per_second of the account")
    parser.add_argument("--database-url", help="PostgreSQL URL (a fresh schema per run); default: SQLite file")
    parser.add_argument("--workers", type=int, default=0,
                        help="with --database-url: `serve --no-dispatch` plus this many `touchpoint worker` processes")
    parser.add_argument("--redis-url", help="Redis URL (wakes workers in other processes at once, shared limits)")
    add_run_options(parser, keep_what="logs, database")
    args = parser.parse_args()
    if args.workers and not args.database_url:
        parser.error("--workers needs --database-url (SQLite has one process)")
    repeat_runs(args, "e2e", run_once)


if __name__ == "__main__":
    main()
