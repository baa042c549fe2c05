"""The knowledge tests bring their own entries: the demo workspace keeps its FAQ but not its articles."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def demo_without_articles(monkeypatch: pytest.MonkeyPatch) -> None:
    from touchpoint import demo

    monkeypatch.setattr(demo, "ARTICLES", [])
