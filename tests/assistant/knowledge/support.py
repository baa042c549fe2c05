"""Helpers for knowledge-base tests: the eval set as rows, a deterministic fake encoder, and a migrated database."""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from tests.assistant.knowledge.eval_set import Entry
from touchpoint.config import Settings
from touchpoint.db.migrate import upgrade
from touchpoint.models import KnowledgeEntry
from touchpoint.runtime import Runtime, build_runtime
from touchpoint.workspaces import service as workspaces


def rows_of(entries: list[Entry]) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=i + 1, kind=e.kind, question=e.question, answer=e.answer, keywords=e.keywords,
                            body=e.body, url=e.url, language=e.language) for i, e in enumerate(entries)]


def model_of(workspace_id: int, entry: Entry, published: bool = True) -> KnowledgeEntry:
    return KnowledgeEntry(workspace_id=workspace_id, kind=entry.kind, question=entry.question, answer=entry.answer,
                          keywords=entry.keywords, body=entry.body, url=entry.url, language=entry.language,
                          is_published=published)


class FakeEncoder:
    """Bag-of-words vectors (hashed), unit length: close texts share words. Can be held at a gate (to see what a
    search does while a large KB is still embedding) or made to fail."""

    encoder_id = "fake-bow"
    dim = 64

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.calls = 0
        self.texts = 0

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        if self.fail:
            raise RuntimeError("encoder broke")
        self.gate.wait(timeout=30)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.strip("?.,!").encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[Runtime, int]]:
    """A migrated database with one workspace (its id), and the knowledge cache emptied before and after."""
    from touchpoint.assistant.knowledge import index

    index.clear_cache()
    runtime = build_runtime(settings)
    try:
        await upgrade(runtime.engine)
        async with runtime.transaction() as session:
            workspace = await workspaces.create_workspace(session, runtime.box, slug="harbour", name="Harbour")
            workspace_id = workspace.id
        yield runtime, workspace_id
    finally:
        index.clear_cache()
        await runtime.close()


async def add_entries(runtime: Runtime, workspace_id: int, entries: list[Entry], **kwargs: Any) -> list[int]:
    async with runtime.transaction() as session:
        models = [model_of(workspace_id, e, **kwargs) for e in entries]
        session.add_all(models)
        await session.flush()
        return [m.id for m in models]
