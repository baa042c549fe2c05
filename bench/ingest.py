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

`--lag` runs the Touchpoint server through this script with three probes (event-loop lag every 5 ms,
garbage collections, a stack sample of the loop's thread whenever it has not ticked for 30 ms) and
prints, for the open loop, the lag percentiles, collections per generation and where the loop stalled;
adds lag_p99_ms, lag_max_ms and gc2_max_ms to the last line.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
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


def measure(driver: Driver, target: dict[str, Any], args: argparse.Namespace, label: str, pid: int,
            probes: Path | None = None) -> dict[str, Any]:
    window = time.time() + 1.0  # after the open loop's warm-up
    opened = driver.call("open_loop", target=target, rate=args.rate, duration=args.rate_duration, warmup=1.0,
                         connections=args.open_connections, senders=args.senders, prefix=f"{label}-open")
    window_end = time.time()
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
            "not_ok": not_ok, "window": (window, window_end)}


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
        serve = ["serve", *(["--no-dispatch"] if args.no_background else [])]
        probes = workdir / "probes.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-instrumented", str(probes), *serve] \
            if args.lag else touchpoint_cmd(*serve)
        with server_process(cmd,
                            ready_url=f"http://127.0.0.1:{port}/{'healthz' if args.no_background else 'readyz'}",
                            log=workdir / "touchpoint.log", env=env,
                            cwd=workdir) as proc, profiled(proc.pid, args.profile and args.profile / "ingest.txt"):
            ours = measure(driver, {"port": port, "path": f"/webhooks/api/{accounts[0].key}",
                                    "secret": secrets[0]}, args, "touchpoint", proc.pid)
            replies = driver.call("stats")["arrivals"]
        processed = _processed(data_dir / "touchpoint.db")
        say(f"  touchpoint: {processed['stored']} events stored, {processed['done']} processed by the inbound "
            f"loop during the run, {replies} bot replies delivered to the fake brand")
    figures = {"ingest_per_s": round(ours["rate"]), "baseline_per_s": round(base["rate"]),
               "ratio": ours["rate"] / base["rate"], "p50_ms": ours["p50"], "p99_ms": ours["p99"],
               "baseline_p99_ms": base["p99"], "rate": args.rate, "not_ok": ours["not_ok"]}
    if args.lag:
        seen = _probe_summary(probes, *ours["window"])
        say(f"  probes during the open loop: loop lag p50={seen['lag_p50_ms']:.1f} ms p99={seen['lag_p99_ms']:.1f} "
            f"ms max={seen['lag_max_ms']:.1f} ms, {seen['lags_over_20ms']} ticks over 20 ms late; collections "
            f"per generation {seen['gc_count']} taking {seen['gc_ms']} ms, longest full one "
            f"{seen['gc2_max_ms']:.1f} ms")
        for where, count in seen["stalls"]:
            say(f"    stalled {count}x in {where}")
        figures.update(lag_p99_ms=seen["lag_p99_ms"], lag_max_ms=seen["lag_max_ms"], gc2_max_ms=seen["gc2_max_ms"])
    return figures


def _processed(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT status, count(*) FROM inbound_events GROUP BY status").fetchall())
    return {"stored": sum(rows.values()), "done": rows.get("done", 0)}


# ------------------------------------------------------------------ instrumented server (--lag)

def _serve_instrumented(out: str, argv: list[str]) -> None:
    """Run `touchpoint <argv>` in this process with three probes, and write what they saw to `out` (JSON)
    when it exits:
      - loop lag: a task that asks to sleep TICK and records how late it woke (wall time, lateness);
      - garbage collections: gc.callbacks, each collection's generation, start and duration;
      - stalls: a watchdog thread that, when the loop has not ticked for STALL seconds, samples the main
        thread's stack once (where the loop is stuck: CPU work between awaits, a synchronous call).
    The probes cost a little CPU (a wake-up every TICK), the same in every run they are used in."""
    import asyncio
    import atexit
    import gc
    import json
    import sys
    import threading
    import time
    import traceback

    tick, stall = 0.005, 0.03
    lags: list[tuple[float, float]] = []
    collections: list[tuple[float, int, float]] = []
    stalls: list[tuple[float, list[str]]] = []
    last_tick = [time.monotonic()]
    gc_started = [0.0]
    main_id = threading.main_thread().ident

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            collections.append((time.time(), info["generation"], time.perf_counter() - gc_started[0]))

    gc.callbacks.append(on_gc)

    async def ticker() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(tick)
            last_tick[0] = time.monotonic()
            lags.append((time.time(), time.perf_counter() - before - tick))

    def watchdog() -> None:
        sampled_for = 0.0
        while True:
            time.sleep(0.002)
            seen = last_tick[0]
            if time.monotonic() - seen > stall and seen != sampled_for:
                sampled_for = seen
                frame = sys._current_frames().get(main_id or 0)
                if frame is not None:
                    stack = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)]
                    stalls.append((time.time(), stack[-25:]))

    import touchpoint.app as app_module

    build = app_module.build_runtime

    def build_runtime(settings: Any) -> Any:
        runtime = build(settings)
        runtime.state["bench_ticker"] = asyncio.get_running_loop().create_task(ticker())
        return runtime

    app_module.build_runtime = build_runtime  # type: ignore[assignment]
    threading.Thread(target=watchdog, daemon=True).start()

    def dump() -> None:
        Path(out).write_text(json.dumps({"lags": lags, "gc": collections, "stalls": stalls}))

    atexit.register(dump)
    from touchpoint.cli import main as touchpoint_main

    sys.argv = ["touchpoint", *argv]
    touchpoint_main()


def _probe_summary(path: Path, start: float, end: float) -> dict[str, Any]:
    """What the probes saw between wall times `start` and `end` (the open loop)."""
    import json
    from collections import Counter

    data = json.loads(path.read_text())
    lags = [lag * 1000 for at, lag in data["lags"] if start <= at <= end]
    gcs = [(gen, ms * 1000) for at, gen, ms in data["gc"] if start <= at <= end]
    full = [ms for gen, ms in gcs if gen == 2]
    where: Counter[str] = Counter()
    for at, stack in data["stalls"]:
        if start <= at <= end:
            ours = [f for f in stack if not f.startswith(("base_events", "events.py", "runners", "threading"))]
            where[" < ".join(reversed(ours[-4:]))] += 1
    return {"lag_p50_ms": percentile(lags, 50), "lag_p99_ms": percentile(lags, 99),
            "lag_max_ms": max(lags, default=0.0), "lags_over_20ms": sum(lag > 20 for lag in lags),
            "gc_count": [sum(1 for gen, _ in gcs if gen == g) for g in (0, 1, 2)],
            "gc_ms": [round(sum(ms for gen, ms in gcs if gen == g), 1) for g in (0, 1, 2)],
            "gc2_max_ms": max(full, default=0.0), "stalls": where.most_common(8)}


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
    parser.add_argument("--lag", action="store_true",
                        help="run the server with probes (event-loop lag, garbage collections, stack samples "
                             "of stalls) and print what they saw during the open loop")
    args = parser.parse_args()
    repeat_runs(args, "ingest", run_once)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-instrumented"]:
        _serve_instrumented(sys.argv[2], sys.argv[3:])
    else:
        main()
