"""One loaded understanding engine per workspace, swapped without ever making a message wait.

`engine_for` is on the path of every customer message, so it does almost nothing: at most every CHECK_SECONDS
per workspace one indexed query for the active version (and the workspace's languages). When the active version
changes (a retrain finished, an operator activated or rolled back a version) the new one is loaded in a thread
while the old engine keeps answering; only the very first load of a workspace is awaited, as there is nothing
else to serve. A version that cannot be loaded is logged and skipped: the previous engine keeps serving.

No engine (None) when the workspace has no trained version yet or the `nlu` extra is not installed: the assistant
then falls back to lexical matching, and says so once in the log and in `status()` for the UI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.intents.schemas import LANGUAGE
from touchpoint.assistant.training import NO_MODEL_WARNING, store_root
from touchpoint.config import Settings
from touchpoint.models import AssistantModel, Workspace

if TYPE_CHECKING:
    from touchpoint.assistant.nlu import NluEngine

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0
NLU_MISSING = "the nlu extra (numpy, onnxruntime...) is not installed"


def languages_for(workspace: Workspace | None) -> tuple[str, ...]:
    """The languages the workspace's assistant serves (ISO 639-1), () for any; read leniently from
    workspace.settings["assistant"]["languages"]."""
    return _languages(workspace.settings if workspace is not None else None)


def _languages(settings: dict[str, Any] | None) -> tuple[str, ...]:
    raw = (settings or {}).get("assistant")
    codes = raw.get("languages") if isinstance(raw, dict) else None
    if not isinstance(codes, list):
        return ()
    return tuple(dict.fromkeys(c for c in codes if isinstance(c, str) and LANGUAGE.fullmatch(c)))


def load_engine(root: Path, version: str, details: dict[str, Any], languages: tuple[str, ...] = (), *,
                warm: bool = True) -> NluEngine:
    """Load `version` of the store at `root` with the encoder it was trained with (recorded in `details` by the
    training worker). Blocking (disk, onnxruntime): call it in a thread. Raises ModelLoadError, VersionNotFound,
    or ImportError without the nlu extra."""
    from touchpoint.assistant.nlu import ModelStore, NluEngine, shared_encoder
    from touchpoint.assistant.nlu.store import NO_ENCODER

    if details.get("encoder") == NO_ENCODER:
        encoder = None
    else:
        model_dir = details.get("model_dir")
        encoder = shared_encoder(model_dir if isinstance(model_dir, str) else None)
    engine = NluEngine(ModelStore(root).load(encoder, version), languages)
    if warm:
        engine.warm_up()
    return engine


@dataclass
class _Slot:
    engine: NluEngine | None = None
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    checked_at: float = float("-inf")
    wanted: str | None = None  # the active version as last read from the database
    loading: asyncio.Task[None] | None = None
    failed: dict[str, str] = field(default_factory=dict)  # version -> why it could not be loaded


class EngineRegistry:
    def __init__(self, settings: Settings, *, check_seconds: float = CHECK_SECONDS) -> None:
        self.settings = settings
        self.check_seconds = check_seconds
        self._slots: dict[int, _Slot] = {}
        self._warned: set[int] = set()
        self._nlu_missing = False

    async def engine_for(self, session: AsyncSession, workspace_id: int) -> NluEngine | None:
        slot = self._slots.setdefault(workspace_id, _Slot())
        now = time.monotonic()
        if now - slot.checked_at < self.check_seconds:
            return slot.engine
        slot.checked_at = now
        if self._nlu_missing:
            self._warn(workspace_id, NLU_MISSING)
            return None
        row = (await session.execute(
            select(AssistantModel.version, AssistantModel.details)
            .where(AssistantModel.workspace_id == workspace_id, AssistantModel.is_active.is_(True),
                   AssistantModel.status == "ready")
            .order_by(AssistantModel.id.desc()).limit(1))).first()
        settings = (await session.execute(
            select(Workspace.settings).where(Workspace.id == workspace_id))).scalar_one_or_none()
        languages = _languages(settings)
        if row is None:  # never trained, or every version deactivated
            slot.engine, slot.version, slot.wanted, slot.details = None, None, None, {}
            self._warn(workspace_id, "no version is trained yet")
            return None
        version, details = row[0], dict(row[1] or {})
        slot.wanted = version
        if slot.engine is not None:
            slot.engine.languages = languages
        if version == slot.version or version in slot.failed:
            return slot.engine
        if slot.loading is None:
            slot.loading = asyncio.create_task(self._load(workspace_id, slot, version, details, languages),
                                               name=f"touchpoint-nlu-load-{workspace_id}")
        if slot.engine is None:  # the first load: nothing else to serve, so this one waits
            await asyncio.shield(slot.loading)
        return slot.engine

    async def _load(self, workspace_id: int, slot: _Slot, version: str, details: dict[str, Any],
                    languages: tuple[str, ...]) -> None:
        try:
            engine = await asyncio.to_thread(load_engine, store_root(self.settings, workspace_id), version, details,
                                             languages)
        except ImportError:
            self._nlu_missing = True
            self._warn(workspace_id, NLU_MISSING)
            return
        except Exception as exc:  # a corrupt version can fail in many ways; the old engine must keep serving
            reason = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
            slot.failed[version] = reason
            log.error("workspace %s: assistant model %s could not be loaded (%s); %s", workspace_id, version, reason,
                      f"still serving {slot.version}" if slot.engine is not None else "no model is serving")
            if slot.engine is None:
                self._warn(workspace_id, f"version {version} could not be loaded")
            return
        finally:
            slot.loading = None
        if slot.wanted == version:
            slot.engine, slot.version, slot.details = engine, version, details
            log.info("workspace %s: assistant model %s loaded (%s)", workspace_id, version, details.get("encoder"))
        if slot.wanted is not None and slot.wanted != slot.version and slot.wanted not in slot.failed:
            slot.checked_at = float("-inf")  # the active version changed while loading: look again next message

    def _warn(self, workspace_id: int, why: str) -> None:
        if workspace_id not in self._warned:
            self._warned.add(workspace_id)
            log.warning("workspace %s: %s (%s)", workspace_id, NO_MODEL_WARNING, why)

    def status(self, workspace_id: int) -> dict[str, Any]:
        """For the UI: the version serving, its encoder, and a plain warning when accuracy is reduced."""
        slot = self._slots.get(workspace_id) or _Slot()
        warning: str | None
        if slot.engine is None:
            warning = NO_MODEL_WARNING
        else:
            warning = slot.details.get("warning")
        failed = slot.failed.get(slot.wanted or "")
        out: dict[str, Any] = {"version": slot.version, "encoder": slot.details.get("encoder"), "warning": warning,
                               "loading": slot.wanted if slot.loading is not None else None}
        if failed:
            out["error"] = f"version {slot.wanted} could not be loaded: {failed}"
        if self._nlu_missing:
            out["error"] = NLU_MISSING
        return out

    async def settle(self) -> None:
        """Wait for loads in progress (tests, shutdown)."""
        tasks = [slot.loading for slot in self._slots.values() if slot.loading is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
