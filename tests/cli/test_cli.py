"""The CLI, run the way a user runs it: as a command in a shell, against a data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

TOUCHPOINT = shutil.which("touchpoint", path=str(Path(sys.executable).parent)) or "touchpoint"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "TOUCHPOINT_ENVIRONMENT": "development", **(env or {})}
    full_env.pop("TOUCHPOINT_DATABASE_URL", None)
    return subprocess.run([TOUCHPOINT, *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [[], ["serve"], ["worker"], ["migrate"], ["demo"], ["channels", "add"],
                                     ["channels", "list"], ["apikey"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_serve_and_demo_take_host_and_port():
    for command in ("serve", "demo"):
        out = run(command, "--help").stdout
        assert "--host" in out and "--port" in out


def test_demo_is_idempotent_and_channels_and_keys_can_be_added(tmp_path):
    first = run("demo", "--no-serve", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout and "maria@harbour.example" in first.stdout
    second = run("demo", "--no-serve", "--data-dir", str(tmp_path))
    assert "already there" in second.stdout
    env = {"TOUCHPOINT_DATA_DIR": str(tmp_path)}
    added = run("channels", "add", "api", "--name", "Kiosk", "--credential", "secret=s3cret",
                "--setting", "outbound_url=https://brand.example/inbox", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().startswith("/webhooks/api/")
    listed = run("channels", "list", env=env)
    assert "Kiosk" in listed.stdout and "webchat" in listed.stdout
    unknown = run("channels", "add", "carrier-pigeon", "--name", "x", env=env)
    assert unknown.returncode == 2 and "unknown channel" in unknown.stdout
    key = run("apikey", "--name", "crm sync", env=env)
    assert key.returncode == 0 and key.stdout.strip().startswith("tp_")


def test_production_refuses_the_default_secret(tmp_path):
    result = run("migrate", "--data-dir", str(tmp_path), env={"TOUCHPOINT_ENVIRONMENT": "production"})
    assert result.returncode == 2
    assert "TOUCHPOINT_SECRET_KEY" in result.stdout


@dataclass
class Served:
    port: int
    readiness: dict[str, Any] | None = None
    output: str = ""


@contextlib.contextmanager
def served(command: str, data_dir: Path) -> Iterator[Served]:
    """Start `touchpoint COMMAND --port P --data-dir D` as a user would, wait (bounded) for /readyz,
    and stop it afterwards; `output` holds what the command printed once the block ends."""
    result = Served(free_port())
    env = {**os.environ, "TOUCHPOINT_ENVIRONMENT": "development"}
    env.pop("TOUCHPOINT_DATABASE_URL", None)
    process = subprocess.Popen([TOUCHPOINT, command, "--port", str(result.port), "--data-dir", str(data_dir)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{result.port}/readyz", timeout=2)
                result.readiness = response.json()
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield result
    finally:
        process.terminate()
        result.output = process.communicate(timeout=15)[0].decode(errors="replace")


def test_serve_applies_migrations_and_becomes_ready(tmp_path):
    with served("serve", tmp_path) as server:
        ready = server.readiness
    assert ready == {"ready": True, "checks": {"database": "ok", "migrations": "ok", "dispatcher": "ok"}}, \
        f"not ready: {ready}\n{server.output[-3000:]}"
    assert (tmp_path / "touchpoint.db").exists()


def test_a_lease_shorter_than_a_send_is_refused(tmp_path):
    result = run("migrate", "--data-dir", str(tmp_path), env={"TOUCHPOINT_DISPATCH_LEASE_SECONDS": "5"})
    assert result.returncode == 2
    assert "TOUCHPOINT_DISPATCH_LEASE_SECONDS" in result.stdout


def test_demo_prints_where_to_chat_where_to_answer_and_how_to_log_in(tmp_path):
    with served("demo", tmp_path) as server:
        assert server.readiness and server.readiness["ready"]
    assert f"http://127.0.0.1:{server.port}/demo" in server.output
    assert f"http://127.0.0.1:{server.port}/inbox" in server.output
    assert "maria@harbour.example / harbour-demo-2026" in server.output
