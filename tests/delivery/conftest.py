"""Delivery tests start many harnesses; the demo agents' argon2 hashes (about 0.4 s each at the
production cost) are not what these tests are about, so they are made cheap here."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from touchpoint.kit import passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
