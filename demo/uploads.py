"""Turn what the browser uploaded (files, a folder, zip archives) into a checked list of recordings.

Every path here came from Gradio's upload folder or from our own zip extraction: the browser
sends file contents, never server paths. The caps of `Limits` are applied before any model work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_utils.audio import AUDIO_SUFFIXES, AudioError, audio_info
from demo.limits import LimitExceeded, Limits, extract_zip


@dataclass(frozen=True)
class Recording:
    name: str  # what the user knows the file by (a zip member keeps its folder inside the zip)
    path: Path


def collect_recordings(files: list[str] | None, folder: list[str] | None, workdir: Path, limits: Limits) -> list[Recording]:
    """Uploaded files as given (a bad one becomes an error row later), zips unpacked, folders
    filtered to audio files; `LimitExceeded` when there are more files than one batch allows."""
    recordings: list[Recording] = []
    zip_budget = limits.max_zip_bytes  # shared by all zips of one request, not granted per zip
    for item in map(Path, files or []):
        if item.suffix.lower() == ".zip":
            extracted = extract_zip(item, workdir, limits, zip_budget)
            zip_budget -= sum(path.stat().st_size for _, path in extracted)
            recordings += [Recording(f"{item.name}/{member}", path) for member, path in extracted]
            _check_count(recordings, limits)  # before unpacking the next zip
        else:
            recordings.append(Recording(item.name, item))
    # A folder upload brings everything in it: keep only what looks like audio.
    recordings += [Recording(p.name, p) for p in map(Path, folder or []) if p.suffix.lower() in AUDIO_SUFFIXES]
    _check_count(recordings, limits)
    return recordings


def _check_count(recordings: list[Recording], limits: Limits) -> None:
    if len(recordings) > limits.max_batch_files:
        raise LimitExceeded("batch_too_many_files", count=len(recordings), limit=limits.max_batch_files)


def check_total_duration(recordings: list[Recording], limits: Limits,
                         progress: Callable[[int, int], None] | None = None) -> float:
    """Total seconds of audio (header only where possible); `LimitExceeded` above the batch cap.
    Unreadable files, and files over the per-file limit (never decoded past it), count as zero
    here: they become error rows, not a refusal of the batch."""
    total = 0.0
    for done, recording in enumerate(recordings, start=1):
        try:
            total += audio_info(recording.path, max_seconds=limits.max_seconds).duration
        except (AudioError, OSError):
            pass
        if total > limits.max_batch_seconds:
            raise LimitExceeded("batch_too_long", seconds=total, limit=limits.max_batch_seconds)
        if progress:
            progress(done, len(recordings))
    return total
