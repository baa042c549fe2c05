"""Versioned models on disk, so a retrain never replaces a working model in place and a bad one can be rolled back.

Layout of a store (one per workspace, wherever the caller keeps it):

    root/
      CURRENT                   name of the active version (replaced atomically)
      versions/v0001/manifest.json
                     intents.npz      arrays of the intent classifier (no pickle: np.load(allow_pickle=False))
                     escalation.npz   arrays of the escalation scorer, when the model has one
      versions/v0002/...

A version directory is written under a temporary name and renamed when complete, so a crash mid-save leaves no
half version behind. Loading checks the manifest and that the encoder the model was trained with is the one
available now (another encoder means another vector space: its arrays would be garbage).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from touchpoint.assistant.nlu.classifier import IntentClassifier
from touchpoint.assistant.nlu.encoders import SentenceEncoder
from touchpoint.assistant.nlu.errors import ModelLoadError, VersionNotFound
from touchpoint.assistant.nlu.escalation import EscalationScorer
from touchpoint.kit.clock import utcnow

FORMAT = 1
NO_ENCODER = "ngrams-only"


@dataclass
class NluModel:
    """What one version holds: the intent classifier, optionally the escalation scorer, and its manifest."""

    intents: IntentClassifier
    escalation: EscalationScorer | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    created_at: str | None = None

    @property
    def encoder_id(self) -> str:
        return self.intents.encoder.encoder_id if self.intents.encoder is not None else NO_ENCODER

    def manifest(self) -> dict[str, Any]:
        intent_meta, _ = self.intents.state()
        manifest: dict[str, Any] = {
            "format": FORMAT, "version": self.version, "created_at": self.created_at,
            "encoder_id": self.encoder_id, "intents": list(self.intents.intents),
            "metrics": self.metrics, "intent_model": {k: v for k, v in intent_meta.items() if k != "intents"},
        }
        if self.escalation is not None:
            manifest["escalation_model"] = self.escalation.state()[0]
        return manifest


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{path} is unreadable: {exc}") from exc


class ModelStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._versions = self.root / "versions"

    # --- listing ---------------------------------------------------------------------------------------------

    def versions(self) -> list[str]:
        if not self._versions.is_dir():
            return []
        return sorted(p.name for p in self._versions.iterdir() if p.is_dir() and (p / "manifest.json").is_file())

    def current(self) -> str | None:
        marker = self.root / "CURRENT"
        if not marker.is_file():
            return None
        name = marker.read_text(encoding="utf-8").strip()
        return name or None

    def manifest(self, version: str) -> dict[str, Any]:
        path = self._version_dir(version) / "manifest.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"manifest of version {version} is unreadable: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ModelLoadError(f"version {version} has an unknown manifest format")
        return manifest

    def _version_dir(self, version: str) -> Path:
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise VersionNotFound(f"no model version {version!r}")
        path = self._versions / version
        if not (path / "manifest.json").is_file():
            raise VersionNotFound(f"no model version {version!r}")
        return path

    # --- writing ---------------------------------------------------------------------------------------------

    def save(self, model: NluModel, *, activate: bool = True) -> str:
        """Write `model` as the next version; make it current unless `activate` is False."""
        self._versions.mkdir(parents=True, exist_ok=True)
        existing = [int(v[1:]) for v in self.versions() if v[1:].isdigit()]
        version = f"v{(max(existing) + 1) if existing else 1:04d}"
        model.version, model.created_at = version, utcnow().isoformat()
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=self._versions))
        try:
            _save_arrays(staging / "intents.npz", model.intents.state()[1])
            if model.escalation is not None:
                _save_arrays(staging / "escalation.npz", model.escalation.state()[1])
            (staging / "manifest.json").write_text(json.dumps(model.manifest(), indent=2), encoding="utf-8")
            staging.rename(self._versions / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        self._version_dir(version)  # must exist
        marker = self.root / "CURRENT"
        tmp = self.root / ".CURRENT.tmp"
        tmp.write_text(version, encoding="utf-8")
        os.replace(tmp, marker)

    def rollback(self) -> str:
        """Make the version before the current one current again; returns it."""
        versions, current = self.versions(), self.current()
        if current not in versions:
            raise VersionNotFound("no current model version to roll back from")
        position = versions.index(current)
        if position == 0:
            raise VersionNotFound(f"{current} is the oldest version; there is nothing to roll back to")
        previous = versions[position - 1]
        self.activate(previous)
        return previous

    # --- loading ---------------------------------------------------------------------------------------------

    def load(self, encoder: SentenceEncoder | None, version: str | None = None) -> NluModel:
        """Load `version` (default: current) for use with `encoder` (None: the no-model featuriser)."""
        version = version or self.current()
        if version is None:
            raise VersionNotFound("this store has no current model version")
        manifest = self.manifest(version)
        available = encoder.encoder_id if encoder is not None else NO_ENCODER
        if manifest.get("encoder_id") != available:
            raise ModelLoadError(f"version {version} was trained with encoder {manifest.get('encoder_id')!r} but "
                                 f"{available!r} is loaded; retrain it or load its encoder")
        directory = self._version_dir(version)
        try:
            intent_meta = {**manifest["intent_model"], "intents": manifest["intents"]}
            intents = IntentClassifier.from_state(intent_meta, _load_arrays(directory / "intents.npz"), encoder)
            escalation = None
            if "escalation_model" in manifest:
                escalation = EscalationScorer.from_state(manifest["escalation_model"],
                                                         _load_arrays(directory / "escalation.npz"), encoder)
        except (KeyError, ValueError, IndexError) as exc:
            raise ModelLoadError(f"version {version} is corrupt: {exc}") from exc
        return NluModel(intents, escalation, manifest.get("metrics", {}), version, manifest.get("created_at"))
