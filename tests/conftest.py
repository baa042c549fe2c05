"""Shared fixtures. Every test that touches storage runs on SQLite and, when
TOUCHPOINT_TEST_POSTGRES_URL is set, again on PostgreSQL (each test in its own schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from touchpoint.config import Settings
from touchpoint.kit import passwords

POSTGRES_URL = os.environ.get("TOUCHPOINT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TOUCHPOINT_TEST_REDIS_URL")


def pytest_report_header(config: Any) -> list[str]:
    lines = []
    lines.append(f"postgres: {POSTGRES_URL or 'not set (PostgreSQL tests skip)'}")
    lines.append(f"redis: {REDIS_URL or 'not set (Redis tests skip)'}")
    return lines


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every harness creates the demo agents; production-cost argon2 (~0.4 s a hash) is not what the
    tests are about. The hashes are still real argon2id, verified by the same code."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("TOUCHPOINT_TEST_POSTGRES_URL is not set: PostgreSQL variant skipped")
    return str(request.param)


@pytest.fixture
async def settings(db_kind: str, tmp_path: Path) -> AsyncIterator[Settings]:
    base: dict[str, Any] = {"environment": "test", "data_dir": tmp_path, "allow_private_urls": True,
                            "secret_key": "test-secret-key-0123456789abcdef0123456789",
                            "dispatch_idle_poll_seconds": 0.2,
                            # Tests that need a trained model train it themselves (tests/assistant).
                            "assistant_training": False}
    if db_kind == "sqlite":
        yield Settings(**base)
        return
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _pg_execute(POSTGRES_URL, f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(**base, database_url=POSTGRES_URL, database_schema=schema)
    finally:
        await _pg_execute(POSTGRES_URL, f'DROP SCHEMA "{schema}" CASCADE')


async def _pg_execute(url: str, sql: str) -> None:
    """Fails loudly when the URL is set but the server cannot be reached: that is a broken CI, not a skip."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
