"""Per-request scratch folders (extracted zips, CSV downloads) under one folder per process.

Each request gets a fresh folder, so requests never see each other's files; folders older
than `KEEP_SECONDS` are removed when a new one is made (downloads must outlive the request
that wrote them, but not the day).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

KEEP_SECONDS = 3600.0
_ROOT: Path | None = None


def root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="korean-speech-demo-"))
    return _ROOT


def fresh_dir(prefix: str) -> Path:
    remove_old(root(), KEEP_SECONDS)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root()))


def remove_old(folder: Path, age_seconds: float) -> None:
    cutoff = time.time() - age_seconds
    for child in folder.iterdir():
        if child.is_dir() and child.stat().st_mtime < cutoff:
            shutil.rmtree(child, ignore_errors=True)
