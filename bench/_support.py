"""What the benchmarks share: starting and stopping servers, preparing a Touchpoint data directory, and
the *driver* — a separate process that generates HTTP load and hosts the fake provider.

Why a hand-written HTTP/1.1 client and server instead of httpx/uvicorn in the driver: the load generator
must be much cheaper than what it measures, or the figures measure the load generator. Raw asyncio streams
(on uvloop when installed) do tens of thousands of small requests per second on one core; httpx does a
few thousand. Everything listens and connects on 127.0.0.1 only, and every loop is bounded in time.

Timestamps are time.monotonic(), which on Linux is one clock for every process of the machine, so a
send time taken in one process and an arrival time taken in another can be subtracted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
# Texts the demo FAQ answers with one reply each (a not-understood text twice would hand over to people
# and stop the bot from answering, which is right for customers and wrong for a throughput figure).
FAQ_TEXTS = ["Is breakfast included?", "What time is check-in?", "Can I bring my dog?", "Is there parking?",
             "Do you have wifi?", "How do I cancel my booking?"]


# --------------------------------------------------------------------------------------------- figures

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def figure_line(figures: dict[str, Any]) -> str:
    parts = []
    for name, value in figures.items():
        if isinstance(value, float):
            value = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        parts.append(f"{name}={value}")
    return " ".join(parts)


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every numeric figure over the runs (the first run's value for anything else)."""
    merged: dict[str, Any] = {}
    for name, value in runs[0].items():
        values = [run[name] for run in runs if isinstance(run.get(name), int | float)]
        merged[name] = statistics.median(values) if len(values) == len(runs) else value
        if isinstance(value, int) and not isinstance(value, bool) and isinstance(merged[name], float) \
                and merged[name].is_integer():
            merged[name] = int(merged[name])
    return merged


def add_run_options(parser: Any, *, keep_what: str = "logs, database") -> None:
    """The options every benchmark shares: repeats, keeping the work dir, profiling the server."""
    parser.add_argument("--runs", type=int, default=1, help="repeat and print the medians last")
    parser.add_argument("--keep", action="store_true", help=f"keep the temporary directory ({keep_what})")
    parser.add_argument("--profile", type=Path, help="directory for a py-spy profile of the Touchpoint server")


def repeat_runs(args: Any, name: str, run_once: Callable[[Any, Path], dict[str, Any]], *,
                print_each: bool = True) -> None:
    """Run `run_once(args, workdir)` args.runs times in fresh temporary dirs; the last line printed is
    the figures (the medians when there were several runs)."""
    import shutil
    import tempfile

    say(machine())
    runs = []
    for number in range(args.runs):
        workdir = Path(tempfile.mkdtemp(prefix=f"touchpoint-bench-{name}-"))
        try:
            say(f"run {number + 1}/{args.runs} in {workdir}")
            runs.append(run_once(args, workdir))
            if print_each:
                say(f"  {figure_line(runs[-1])}")
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    if args.runs > 1:
        say(f"medians over {args.runs} runs:")
    say(figure_line(median_figures(runs)))


def machine() -> str:
    memory = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f}GiB"
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"machine: nproc={os.cpu_count()} memory={memory} cpu={cpu!r} python={platform.python_version()}"


def say(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None) -> float:
    """Poll `url` until it answers 200; returns the seconds it took. Fails if the process exits."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready\n{tail}")
        with contextlib.suppress(OSError):
            if http_get(url, timeout=1.0)[0] == 200:
                return time.monotonic() - started
        time.sleep(0.02)
    raise RuntimeError(f"{url} not ready within {timeout} s")


@contextlib.contextmanager
def server_process(cmd: list[str], *, ready_url: str, log: Path, env: dict[str, str] | None = None,
                   cwd: Path | None = None, timeout: float = 60.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait for it to be ready, and stop it (SIGINT, then SIGKILL) whatever happens."""
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        wait_until_ready(ready_url, proc, timeout, log)
        yield proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def touchpoint_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """Embedded mode on a fresh SQLite directory, whatever the caller's shell has configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update({"TOUCHPOINT_DATA_DIR": str(data_dir), "TOUCHPOINT_PORT": str(port), "TOUCHPOINT_HOST": HOST,
                "TOUCHPOINT_ALLOW_PRIVATE_URLS": "true", "TOUCHPOINT_ENVIRONMENT": "development",
                # The assistant's model is trained (or not) by prepare_touchpoint, never during a measurement.
                "TOUCHPOINT_ASSISTANT_TRAINING": "false"})
    env.update(extra)
    return env


def touchpoint_cmd(*args: str) -> list[str]:
    """The `touchpoint` command; BENCH_TOUCHPOINT replaces it (e.g. with a wrapper that adds tracing)."""
    if os.environ.get("BENCH_TOUCHPOINT"):
        return [*shlex.split(os.environ["BENCH_TOUCHPOINT"]), *args]
    script = BIN / "touchpoint"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "touchpoint.cli", *args]


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """Sample `pid` with py-spy (pip install py-spy) into `out` as collapsed stacks (flamegraph input),
    when `out` is given. Only samples of the thread holding the GIL count (`--gil`), so the profile shows
    where the Python CPU time went, not who was waiting."""
    if out is None:
        yield
        return
    spy = BIN / "py-spy"
    cmd = [str(spy if spy.exists() else "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
           "--output", str(out), "--gil"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        stop_process(proc)
        say(f"  profile written to {out}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------------------ preparing a data dir

@dataclass(frozen=True)
class ApiAccount:
    key: str
    secret: str
    id: int
    path: str  # where its outbound messages arrive at the fake provider


async def _prepare(data_dir: Path, accounts: list[tuple[str, dict[str, Any]]], train: bool,
                   database: dict[str, str] | None = None) -> tuple[int, list[ApiAccount]]:
    from touchpoint.config import Settings
    from touchpoint.db.migrate import upgrade
    from touchpoint.demo import ensure_demo
    from touchpoint.models import Workspace
    from touchpoint.runtime import build_runtime
    from touchpoint.workspaces import service as workspaces

    database = database or {}
    runtime = build_runtime(Settings(data_dir=data_dir, database_url=database.get("url"), redis_url=None,
                                     database_schema=database.get("schema")))
    try:
        await upgrade(runtime.engine)
        created = []
        async with runtime.transaction() as session:
            info = await ensure_demo(session, runtime.box)
            workspace = await session.get(Workspace, info.workspace_id)
            assert workspace is not None
            for index, (secret, settings) in enumerate(accounts):
                account = await workspaces.add_channel_account(
                    session, runtime.box, workspace=workspace, channel="api", name=f"Bench brand {index}",
                    credentials={"secret": secret}, settings=settings)
                created.append(ApiAccount(account.key, secret, account.id, f"/acct/{index}"))
        if train:  # the demo asked for its first training: do it now, before anything is measured
            from touchpoint.assistant.training_worker import TrainingWorker

            await TrainingWorker(runtime, "bench-prepare").run_once()
        return info.workspace_id, created
    finally:
        await runtime.close()


def new_secrets(count: int) -> list[str]:
    return [f"bench-secret-{index}-{os.urandom(8).hex()}" for index in range(count)]


def receiver_paths(secrets: list[str]) -> dict[str, str]:
    """The fake provider's path for each account (its outbound_url), with the secret it verifies."""
    return {f"/acct/{index}": secret for index, secret in enumerate(secrets)}


def prepare_touchpoint(data_dir: Path, receiver_port: int, secrets: list[str],
                       extra_settings: dict[str, Any] | None = None, *, train: bool = False,
                       database: dict[str, str] | None = None) -> tuple[int, list[ApiAccount]]:
    """Migrate a fresh data dir (or the PostgreSQL `database`: {"url", "schema"}), create the demo workspace (its
    FAQ answers the bot's questions) and one custom API channel account per secret, whose outbound_url is the
    driver's fake provider."""
    specs = [(secret, {"outbound_url": f"http://{HOST}:{receiver_port}/acct/{index}", **(extra_settings or {})})
             for index, secret in enumerate(secrets)]
    return asyncio.run(_prepare(data_dir, specs, train, database))


@contextlib.contextmanager
def postgres_schema(url: str | None) -> Iterator[dict[str, str] | None]:
    """A fresh schema in the PostgreSQL database at `url` for one run, dropped afterwards (None: SQLite)."""
    if not url:
        yield None
        return

    async def execute(sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    schema = f"bench_{os.urandom(6).hex()}"
    asyncio.run(execute(f'CREATE SCHEMA "{schema}"'))
    try:
        yield {"url": url, "schema": schema}
    finally:
        asyncio.run(execute(f'DROP SCHEMA "{schema}" CASCADE'))


@contextlib.contextmanager
def worker_processes(count: int, *, env: dict[str, str], workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `touchpoint worker` processes (PostgreSQL), each logging to workdir/worker-N.log; stopped after."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for number in range(count):
            with (workdir / f"worker-{number}.log").open("ab") as out:
                procs.append(subprocess.Popen(touchpoint_cmd("worker"), stdout=out, stderr=subprocess.STDOUT,
                                              env=env, cwd=workdir))
        for number, proc in enumerate(procs):  # measured from when every worker runs its loops
            log = workdir / f"worker-{number}.log"
            deadline = time.monotonic() + 120
            while "running; Ctrl-C" not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {number} did not start:\n{log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.1)
        yield procs
    finally:
        for proc in procs:
            stop_process(proc)


# -------------------------------------------------------------------------------- raw HTTP/1.1 client

def signed_request(port: int, path: str, secret: str, body: bytes) -> bytes:
    from touchpoint.channels.api.adapter import sign

    timestamp = int(time.time())
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Touchpoint-Timestamp: {timestamp}\r\n"
            f"X-Touchpoint-Signature: {sign(secret, timestamp, body)}\r\n\r\n")
    return head.encode() + body


def message_body(event_id: str, sender: str, text: str) -> bytes:
    return json.dumps({"events": [{"type": "message", "id": event_id, "from": {"id": sender, "name": sender},
                                   "text": text}]}, separators=(",", ":")).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection: one request at a time, Content-Length bodies only."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = await self.reader.readexactly(length) if length else b""
            return int(head[9:12]), body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# ----------------------------------------------------------------------------- the fake provider

class Receiver:
    """A fast fake provider for the custom API channel: verifies our signature like a brand would,
    answers 200 {"message_id"}, and records (path, recipient, arrival time) for every message."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets  # path -> signing secret
        self.arrivals: list[tuple[str, str, float]] = []
        self.bad_signatures = 0
        self.listeners: list[Callable[[str, str, float], None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from touchpoint.channels.api.adapter import sign

        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.monotonic()
                secret = self.secrets.get(path)
                timestamp = headers.get("x-touchpoint-timestamp", "")
                if secret is None or sign(secret, timestamp, body) != headers.get("x-touchpoint-signature"):
                    self.bad_signatures += 1
                    reply, status = b'{"error":{"code":"bad_signature"}}', b"401 Unauthorized"
                else:
                    data = json.loads(body)
                    recipient = data["recipient"]["id"]
                    self.arrivals.append((path, recipient, arrived))
                    for listener in self.listeners:
                        listener(path, recipient, arrived)
                    reply, status = json.dumps({"message_id": f"fake-{data['id']}"}).encode(), b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ncontent-length: "
                             + str(len(reply)).encode() + b"\r\n\r\n" + reply)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


# ------------------------------------------------------------------------------------- load patterns

@dataclass
class Target:
    """Where to post webhooks and how to sign them."""

    port: int
    path: str
    secret: str

    def request(self, event_id: str, sender: str, text: str) -> bytes:
        return signed_request(self.port, self.path, self.secret, message_body(event_id, sender, text))


def _event(prefix: str, index: int, senders: int) -> tuple[str, str, str]:
    return f"{prefix}-{index}", f"{prefix}-user-{index % senders}", FAQ_TEXTS[index % len(FAQ_TEXTS)]


async def closed_loop(target: Target, *, connections: int, duration: float, warmup: float, senders: int,
                      prefix: str) -> dict[str, Any]:
    """`connections` clients each post, wait for the answer and post again, for `duration` seconds.
    The rate counts answers completed after `warmup`."""
    counter = iter(range(10**9))
    statuses: dict[int, int] = defaultdict(int)
    errors = 0
    measured = 0
    started = time.monotonic()
    measure_from, end = started + warmup, started + duration

    async def client() -> None:
        nonlocal errors, measured
        conn = Connection(target.port)
        while time.monotonic() < end:
            raw = target.request(*_event(prefix, next(counter), senders))
            try:
                status, _ = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                await asyncio.sleep(0.01)
                continue
            statuses[status] += 1
            if status == 200 and time.monotonic() >= measure_from:
                measured += 1
        conn.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.monotonic() - measure_from
    return {"rate": measured / elapsed, "statuses": dict(statuses), "errors": errors}


async def open_loop(target: Target, *, rate: float, duration: float, warmup: float, connections: int,
                    senders: int, prefix: str,
                    on_sent: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Post at a fixed rate whatever the answers do (open loop). Latency counts from the scheduled send
    time, so waiting for a free connection counts too (no coordinated omission)."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(target.port))
    latencies: list[float] = []
    statuses: dict[int, int] = defaultdict(int)
    errors = 0
    total = int(rate * duration)
    start = time.monotonic() + 0.05
    tasks: set[asyncio.Task[None]] = set()

    async def one(index: int, at: float) -> None:
        nonlocal errors
        event_id, sender, text = _event(prefix, index, senders)
        raw = target.request(event_id, sender, text)
        conn = await pool.get()
        try:
            if on_sent:
                on_sent(sender, at)
            status, _ = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            return
        finally:
            pool.put_nowait(conn)
        statuses[status] += 1
        if at >= start + warmup and status == 200:
            latencies.append(time.monotonic() - at)

    index = 0
    while index < total:
        now = time.monotonic()
        while index < total and start + index / rate <= now:
            task = asyncio.create_task(one(index, start + index / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    while not pool.empty():
        pool.get_nowait().close()
    return {"latencies": latencies, "statuses": dict(statuses), "errors": errors, "sent": total}


class ReplyMatcher:
    """Pairs each bot reply with the message it answers: per sender, replies arrive in the order the
    messages were sent (per-conversation order), and each FAQ question gets exactly one reply."""

    def __init__(self) -> None:
        self.pending: dict[str, deque[float]] = defaultdict(deque)
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.latencies: list[tuple[float, float]] = []  # (sent at, latency)
        self.replies = 0
        self.unexpected = 0

    def sent(self, sender: str, at: float) -> None:
        self.pending[sender].append(at)

    def arrived(self, _path: str, recipient: str, at: float) -> None:
        queue = self.pending.get(recipient)
        if not queue:
            self.unexpected += 1
            return
        sent_at = queue.popleft()
        self.replies += 1
        self.latencies.append((sent_at, at - sent_at))
        waiter = self.waiters.pop(recipient, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    def clear(self) -> None:
        self.pending.clear()
        self.waiters.clear()
        self.latencies.clear()
        self.replies = self.unexpected = 0

    def outstanding(self) -> int:
        return sum(len(q) for q in self.pending.values())


async def conversations_closed_loop(target: Target, matcher: ReplyMatcher, *, customers: int, duration: float,
                                    warmup: float, prefix: str, reply_timeout: float = 30.0) -> dict[str, Any]:
    """`customers` people chat at once: each sends a question, waits for the bot's answer to arrive at the
    fake provider, and asks the next one. The rate is answers per second after `warmup`."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    measure_from, end = started + warmup, started + duration
    answered = 0
    timeouts = errors = 0

    async def customer(number: int) -> None:
        nonlocal answered, timeouts, errors
        conn = Connection(target.port)
        sender = f"{prefix}-user-{number}"
        asked = 0
        while time.monotonic() < end:
            waiter: asyncio.Future[float] = loop.create_future()
            matcher.waiters[sender] = waiter
            at = time.monotonic()
            matcher.sent(sender, at)
            raw = target.request(f"{prefix}-{number}-{asked}", sender, FAQ_TEXTS[(number + asked) % len(FAQ_TEXTS)])
            asked += 1
            try:
                status, _ = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
            if status != 200:
                errors += 1
                matcher.pending[sender].pop()
                await asyncio.sleep(0.05)
                continue
            try:
                arrived = await asyncio.wait_for(waiter, reply_timeout)
            except TimeoutError:
                timeouts += 1
                break
            if arrived >= measure_from and arrived <= end:
                answered += 1
        conn.close()

    await asyncio.gather(*(customer(n) for n in range(customers)))
    window = [lat for sent, lat in matcher.latencies if measure_from <= sent]
    return {"rate": answered / (end - measure_from), "p50": percentile(window, 50), "p99": percentile(window, 99),
            "timeouts": timeouts, "errors": errors}


# --------------------------------------------------------------------------------------- the driver

def _driver_main(conn: Any, secrets: dict[str, str]) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(_driver(conn, secrets))


async def _driver(conn: Any, secrets: dict[str, str]) -> None:
    loop = asyncio.get_running_loop()
    receiver = Receiver(secrets)
    matcher = ReplyMatcher()
    receiver.listeners.append(matcher.arrived)
    server = await asyncio.start_server(receiver.handle, HOST, 0, backlog=2048)
    conn.send(server.sockets[0].getsockname()[1])
    while True:
        command, params = await loop.run_in_executor(None, conn.recv)
        if command == "stop":
            break
        try:
            result = await _run_command(command, params, receiver, matcher)
        except Exception as exc:  # report it to the parent instead of dying silently
            result = {"error": f"{type(exc).__name__}: {exc}"}
        conn.send(result)
    server.close()


async def _run_command(command: str, params: dict[str, Any], receiver: Receiver,
                       matcher: ReplyMatcher) -> dict[str, Any]:
    target = Target(**params.pop("target")) if "target" in params else None
    if command == "closed_loop":
        assert target is not None
        return await closed_loop(target, **params)
    if command == "open_loop":
        assert target is not None
        return await open_loop(target, **params)
    if command == "conversations":
        assert target is not None
        return await conversations_closed_loop(target, matcher, **params)
    if command == "conversations_open":
        assert target is not None
        start_count = len(matcher.latencies)
        reply_timeout = params.pop("reply_timeout", 30.0)
        result = await open_loop(target, on_sent=matcher.sent, **params)
        deadline = time.monotonic() + reply_timeout
        while matcher.outstanding() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        measured_from = min((sent for sent, _ in matcher.latencies[start_count:]), default=0.0) + params["warmup"]
        window = [lat for sent, lat in matcher.latencies[start_count:] if sent >= measured_from]
        return {"ack_latencies": result["latencies"], "reply_latencies": window, "statuses": result["statuses"],
                "errors": result["errors"], "missing_replies": matcher.outstanding(), "sent": result["sent"]}
    if command == "reset":
        matcher.clear()
        receiver.arrivals.clear()
        return {}
    if command == "wait_arrivals":
        deadline = time.monotonic() + params["timeout"]
        while len(receiver.arrivals) < params["count"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return {"arrivals": list(receiver.arrivals), "bad_signatures": receiver.bad_signatures}
    if command == "stats":
        return {"arrivals": len(receiver.arrivals), "bad_signatures": receiver.bad_signatures,
                "unexpected": matcher.unexpected}
    raise ValueError(f"unknown driver command {command!r}")


class Driver:
    """The load generator and fake provider, in a process of its own (the other core)."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.secrets = dict(secrets or {})
        self._proc = context.Process(target=_driver_main, args=(child, self.secrets), daemon=True)
        self._proc.start()
        self.port: int = self._conn.recv()

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        self._conn.send((command, params))
        result: dict[str, Any] = self._conn.recv()
        if "error" in result:
            raise RuntimeError(f"driver {command} failed: {result['error']}")
        return result

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send(("stop", {}))
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
