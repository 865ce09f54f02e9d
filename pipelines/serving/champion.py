"""The model the prediction API serves: the registry's champion, checked against its recorded SHA-256 and
swapped in place when the `champion` alias moves (a promotion or a rollback).

A request takes `Champion.current` once and uses that object to the end: a swap replaces one reference,
so a request in flight finishes on the version it started with and none fails during a switch. A
version whose model file does not match its recorded hash is refused and the previous one stays.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.modeling.model import DelayModel, load_model
from pipelines.registry import integrity, tracking
from pipelines.registry.integrity import IntegrityError
from pipelines.storage import Layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One loaded version: what /healthz reports and every prediction carries."""

    version: str
    sha256: str
    model: DelayModel
    features: tuple[str, ...]      # the booster's own feature names, in its order: the input contract
    codes: dict[str, dict[str, int]]  # per categorical feature: value -> code (vocabulary index + 1)
    loaded_at: float               # unix seconds
    promoted_at: str | None        # when the alias last moved to it (the state database's history)


def load(layout: Layout, version: str) -> Loaded:
    """Load `version` from the registry after checking its model file against its hash tag."""
    from pipelines.registry.history import champion_moves

    path, vocab, sha = integrity.model_files(layout, version)   # IntegrityError before LightGBM reads
    model = load_model(path, vocab)
    moves = [e for e in champion_moves(layout) if str(e["to"]) == str(version)]
    codes = {col: {value: i + 1 for i, value in enumerate(values)} for col, values in model.vocab.items()}
    return Loaded(str(version), sha, model, tuple(model.booster.feature_name()), codes, time.time(),
                  moves[-1]["when"] if moves else None)


class Champion:
    """Holds the loaded champion (or the version of another `alias`); `refresh` follows the alias,
    `watch` does so every `reload_s` seconds."""

    def __init__(self, layout: Layout, reload_s: float,
                 on_change: Callable[[str, Loaded | None], None] | None = None,
                 alias: str = tracking.CHAMPION) -> None:
        self.layout, self.reload_s, self.alias = layout, reload_s, alias
        self.on_change = on_change or (lambda outcome, loaded: None)
        self.current: Loaded | None = None
        self.checked_at: dt.datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Load the alias's version if it is not the one held; True when it switched. Raises when the
        registry cannot be read or the version fails its hash check (the held one stays)."""
        version = tracking.get_alias(self.layout, self.alias)
        self.checked_at = dt.datetime.now(dt.UTC)
        held = self.current
        if version is None or (held is not None and held.version == str(version)):
            return False
        try:
            loaded = load(self.layout, str(version))
        except IntegrityError:
            self.on_change("refused", held)
            raise
        self.current = loaded  # one reference: requests in flight keep the object they took
        log.info("serving model version %s (sha256 %s), was %s", loaded.version, loaded.sha256[:12],
                 held.version if held else None)
        self.on_change("loaded", loaded)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.reload_s):
            try:
                self.refresh()
            except Exception as exc:  # a registry outage or a bad version: keep serving, say so
                log.error("champion reload failed (still serving %s): %s",
                          self.current.version if self.current else None, exc)
                self.on_change("failed", self.current)

    def watch(self) -> Champion:
        """Start following the alias in a daemon thread (stopped by `close`)."""
        self._thread = threading.Thread(target=self._loop, name="champion-reload", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
