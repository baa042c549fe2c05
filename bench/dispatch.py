"""Outbox drain under per-account rate limits: 20 custom API accounts limited to 80 msg/s each
(`rate_per_second: 80`), 800 queued messages each, drained by `touchpoint serve`'s dispatcher into a fake
provider (bench/_support.py driver) that timestamps every arrival per account.

    .venv/bin/python bench/dispatch.py [--accounts 20] [--per-account 800] [--rate 80] [--grouped] [--runs 1]

The queue is written straight into a fresh SQLite data dir before the server starts (contacts, identities,
conversations, queued messages and their outbox rows, one conversation per recipient), interleaved across
accounts as when every brand's campaign is queued at once; `--grouped` queues each account's messages
after the previous account's instead. The demo workspace's model-training request is dropped, so the
server's CPU is delivery's alone.

Figures, over the steady part of the run (from one second after the first arrival until the first account
has received everything, while every account still has a backlog, or until `--max-seconds`):
  achieved_ratio     arrivals per second / (accounts * rate)
  over_limit_windows 1-second windows (from the first arrival) in which any account got more than `--rate`
  max_in_window      the most arrivals any account got in one of those windows
  max_in_sliding_1s  the most arrivals any account got in any 1-second span (a stricter provider's count)
  cpu_ms_per_msg     the server's CPU time (all threads) while draining, per message delivered
Last line: achieved_ratio=… over_limit_windows=… and the others. Each run also prints the longest silence
at the provider (a stall on either side) and which account overshot in which window, if any did.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from _support import (
    ApiAccount,
    Driver,
    add_run_options,
    cpu_seconds,
    free_port,
    new_secrets,
    prepare_touchpoint,
    profiled,
    receiver_paths,
    repeat_runs,
    say,
    server_process,
    touchpoint_cmd,
    touchpoint_env,
)


async def _queue(data_dir: Path, accounts: list[ApiAccount], workspace_id: int, per_account: int,
                 grouped: bool) -> None:
    """Bulk-insert the backlog with Core statements (what queue_message would have left behind)."""
    from sqlalchemy import delete, func, insert, select

    from touchpoint.config import Settings
    from touchpoint.kit.clock import utcnow
    from touchpoint.models import Contact, ContactIdentity, Conversation, Message, OutboxItem, Timer
    from touchpoint.runtime import build_runtime

    runtime = build_runtime(Settings(data_dir=data_dir, database_url=None, redis_url=None))
    now = utcnow()
    order = ([(a, k) for a in range(len(accounts)) for k in range(per_account)] if grouped
             else [(a, k) for k in range(per_account) for a in range(len(accounts))])
    try:
        async with runtime.transaction() as session:
            async def next_id(model: Any) -> int:
                return int((await session.execute(select(func.coalesce(func.max(model.id), 0)))).scalar() or 0) + 1

            contact0, conversation0, message0 = (await next_id(Contact), await next_id(Conversation),
                                                 await next_id(Message))
            contacts, identities, conversations, messages, outbox = [], [], [], [], []
            for n, (a, k) in enumerate(order):
                account = accounts[a]
                cid, vid, mid = contact0 + n, conversation0 + n, message0 + n
                contacts.append({"id": cid, "workspace_id": workspace_id, "name": f"Recipient {a}-{k}",
                                 "attributes": {}, "created_at": now, "updated_at": now})
                identities.append({"workspace_id": workspace_id, "contact_id": cid, "channel_account_id": account.id,
                                   "external_id": f"r{a}-{k}", "reachable": True, "created_at": now})
                conversations.append({"id": vid, "workspace_id": workspace_id, "contact_id": cid,
                                      "channel_account_id": account.id, "status": "bot", "priority": 0,
                                      "last_message_at": now, "created_at": now})
                messages.append({"id": mid, "workspace_id": workspace_id, "conversation_id": vid,
                                 "channel_account_id": account.id, "direction": "out", "sender_kind": "system",
                                 "text": f"Your booking {a}-{k} is confirmed.", "content": {},
                                 "purpose": "transactional", "topic": "service", "status": "queued",
                                 "status_at": now, "created_at": now})
                outbox.append({"workspace_id": workspace_id, "message_id": mid, "channel_account_id": account.id,
                               "idempotency_key": uuid.uuid4().hex, "lane": f"c{vid}", "status": "pending",
                               "available_at": now, "attempts": 0, "created_at": now})
            # The demo workspace asks for its assistant model to be trained; that would share the server's CPU
            # with the dispatcher and count in its CPU per message. This benchmark measures delivery only.
            await session.execute(delete(Timer).where(Timer.kind == "assistant_train"))
            for model, rows in ((Contact, contacts), (ContactIdentity, identities), (Conversation, conversations),
                                (Message, messages), (OutboxItem, outbox)):
                for start in range(0, len(rows), 2000):
                    await session.execute(insert(model), rows[start:start + 2000])
    finally:
        await runtime.close()


def analyse(arrivals: list[tuple[str, str, float]], paths: list[str], per_account: int, rate: float,
            end: float) -> dict[str, Any]:
    by_account: dict[str, list[float]] = defaultdict(list)
    for path, _recipient, at in arrivals:
        by_account[path].append(at)
    for times in by_account.values():
        times.sort()
    first = min(at for _, _, at in arrivals)
    finished = [times[-1] for path, times in by_account.items() if len(times) >= per_account]
    if len(by_account) < len(paths):
        finished = []  # an account got nothing at all: no account is "done" while it starves
    steady_from = first + 1.0
    steady_to = min([*finished, end])
    seconds = max(steady_to - steady_from, 1e-9)
    in_steady = {path: sum(1 for at in by_account.get(path, []) if steady_from <= at < steady_to) for path in paths}
    allowed = rate * len(paths)
    windows = int((max(at for _, _, at in arrivals) - first) // 1.0) + 1
    over = 0
    max_in_window = 0
    over_detail = []  # (window, account path, arrivals)
    for w in range(windows):
        lo, hi = first + w, first + w + 1
        counts = {path: bisect.bisect_left(t, hi) - bisect.bisect_left(t, lo) for path, t in by_account.items()}
        max_in_window = max(max_in_window, *counts.values())
        if any(n > rate for n in counts.values()):
            over += 1
            over_detail += [(w, path, n) for path, n in counts.items() if n > rate]
    # Stalls: the longest silence between two arrivals at the provider (any account) while sending.
    merged = sorted(at for _, _, at in arrivals)
    longest_gap = max((b - a for a, b in itertools.pairwise(merged)), default=0.0)
    sliding_max = 0
    for times in by_account.values():
        for i, at in enumerate(times):
            sliding_max = max(sliding_max, bisect.bisect_left(times, at + 1.0) - i)
    per_account_rates = [n / seconds for n in in_steady.values()]
    return {"achieved_ratio": sum(in_steady.values()) / seconds / allowed, "over_limit_windows": over,
            "aggregate_per_s": sum(in_steady.values()) / seconds, "allowed_per_s": allowed,
            "slowest_account_per_s": min(per_account_rates), "fastest_account_per_s": max(per_account_rates),
            "max_in_window": max_in_window, "max_in_sliding_1s": sliding_max, "steady_s": seconds, "windows": windows,
            "over_detail": over_detail, "longest_gap_ms": longest_gap * 1000}


def run_once(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secrets = new_secrets(args.accounts)
    paths = list(receiver_paths(secrets))
    total = args.accounts * args.per_account
    with Driver(receiver_paths(secrets)) as driver:
        data_dir = workdir / "touchpoint"
        workspace_id, accounts = prepare_touchpoint(data_dir, driver.port, secrets,
                                                    extra_settings={"rate_per_second": args.rate})
        asyncio.run(_queue(data_dir, accounts, workspace_id, args.per_account, args.grouped))
        say(f"  queued {total} messages on {args.accounts} accounts limited to {args.rate:g}/s each")
        port = free_port()
        with server_process(touchpoint_cmd("serve"), ready_url=f"http://127.0.0.1:{port}/healthz",
                            log=workdir / "touchpoint.log", env=touchpoint_env(data_dir, port),
                            cwd=workdir) as proc, profiled(proc.pid, args.profile and args.profile / "dispatch.txt"):
            cpu_before = cpu_seconds(proc.pid)
            result = driver.call("wait_arrivals", count=total, timeout=args.max_seconds)
            cpu = cpu_seconds(proc.pid) - cpu_before
    arrivals = result["arrivals"]
    if not arrivals:
        raise SystemExit("nothing arrived at the fake provider: see touchpoint.log (--keep)")
    first = min(at for _, _, at in arrivals)
    figures = analyse(arrivals, paths, args.per_account, args.rate, end=first + args.max_seconds)
    say(f"  {len(arrivals)}/{total} arrived in {max(a for _, _, a in arrivals) - first:.1f} s; steady part "
        f"{figures['steady_s']:.1f} s at {figures['aggregate_per_s']:.0f}/s of {figures['allowed_per_s']:.0f}/s "
        f"allowed; accounts between {figures['slowest_account_per_s']:.1f} and "
        f"{figures['fastest_account_per_s']:.1f}/s; {figures['over_limit_windows']} of {figures['windows']} "
        f"windows over the limit; server CPU {cpu:.1f} s ({cpu / len(arrivals) * 1000:.2f} ms per message); "
        f"bad signatures {result['bad_signatures']}; longest silence at the provider "
        f"{figures['longest_gap_ms']:.0f} ms")
    for window, path, count in figures["over_detail"][:10]:
        say(f"  over the limit: window {window} account {path} got {count}")
    return {"achieved_ratio": figures["achieved_ratio"], "over_limit_windows": figures["over_limit_windows"],
            "aggregate_per_s": round(figures["aggregate_per_s"]), "allowed_per_s": round(figures["allowed_per_s"]),
            "slowest_account_per_s": figures["slowest_account_per_s"],
            "max_in_window": figures["max_in_window"], "max_in_sliding_1s": figures["max_in_sliding_1s"],
            "delivered": len(arrivals), "queued": total,
            "cpu_ms_per_msg": cpu / len(arrivals) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--per-account", type=int, default=800)
    parser.add_argument("--rate", type=float, default=80.0, help="rate_per_second of every account")
    parser.add_argument("--grouped", action="store_true", help="queue account after account, not interleaved")
    parser.add_argument("--max-seconds", type=float, default=45.0, help="stop measuring after this long")
    add_run_options(parser, keep_what="logs, database")
    args = parser.parse_args()
    repeat_runs(args, "dispatch", run_once)


if __name__ == "__main__":
    main()
