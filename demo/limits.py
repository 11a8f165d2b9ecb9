"""What one request may ask of a shared server, and safe unpacking of uploaded zip files.

A zip is checked before anything is written: member count, total uncompressed size, and
member names (absolute paths and `..` are refused). Extraction writes only audio members,
only into a fresh temporary folder, and counts bytes as it goes, so a header that lies about
sizes cannot fill the disk either.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from data_utils.audio import AUDIO_SUFFIXES
from demo.errors import LocalizedError

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_seconds: float = 300.0  # one recording; longer ones are refused with a message
    window_seconds: float = 20.0  # longer recordings are cut into utterances at pauses, none longer than this
    max_live_seconds: float = 600.0  # one live microphone session (its memory is one window, whatever its length)
    max_batch_files: int = 200
    max_batch_seconds: float = 1800.0  # total audio in one batch analysis
    max_zip_members: int = 1000
    max_zip_bytes: int = 500 * 1024 * 1024  # what the zips of one request may unpack to, together
    max_file_size: str = "50mb"  # one upload (enforced by Gradio before our code runs)


class LimitExceeded(LocalizedError):
    """A request over a limit."""


def member_problem(name: str) -> str | None:
    """Why a zip member name is unsafe to extract, or None if it is a plain relative path."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return "absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "parent directory (..)"
    return None


def is_audio_member(info: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    # macOS resource forks and hidden files are not recordings.
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in parts)
    return not info.is_dir() and not hidden and PurePosixPath(info.filename).suffix.lower() in AUDIO_SUFFIXES


def check_zip(archive: zipfile.ZipFile, limits: Limits, byte_budget: int) -> list[zipfile.ZipInfo]:
    """The audio members of a zip that passes every check; `LimitExceeded` otherwise."""
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise LimitExceeded("zip_too_many_members", count=len(members), limit=limits.max_zip_members)
    total = sum(info.file_size for info in members)
    if total > byte_budget:
        raise LimitExceeded("zip_too_large", megabytes=total / 2**20, limit=limits.max_zip_bytes / 2**20)
    for info in members:
        problem = member_problem(info.filename)
        if problem:
            raise LimitExceeded("zip_unsafe_member", member=info.filename, problem=problem)
    return [info for info in members if is_audio_member(info)]


def extract_zip(path: Path, destination_root: Path, limits: Limits, byte_budget: int | None = None) -> list[tuple[str, Path]]:
    """Audio members of the zip at `path` as (member name, extracted file), extracted into a
    new folder under `destination_root`. `byte_budget` (default: `limits.max_zip_bytes`) is
    what this zip may still unpack to when several zips share one request's allowance."""
    budget = limits.max_zip_bytes if byte_budget is None else byte_budget
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        reason = str(error) if isinstance(error, zipfile.BadZipFile) else error.strerror or type(error).__name__
        raise LimitExceeded("zip_unreadable", name=Path(path).name, reason=reason) from None
    with archive:
        members = check_zip(archive, limits, budget)
        target = Path(tempfile.mkdtemp(prefix="zip-", dir=destination_root))
        extracted = []
        for index, info in enumerate(members):
            # Each member goes to a flat file named by the server: a member's own name (300
            # characters, a folder component too long, `x.wav` beside `x.wav/y.wav`) never
            # becomes a path here, so it can fail no file system call; the user keeps its name.
            name = PurePosixPath(info.filename.replace("\\", "/"))
            out = target / f"{index:05d}{name.suffix.lower()[:8]}"
            budget = _copy_member(archive, info, out, budget, limits)
            extracted.append((name.as_posix(), out))
    return extracted


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: Path, budget: int, limits: Limits) -> int:
    """Copy one member in chunks; the remaining byte budget is returned, never overdrawn."""
    try:
        with archive.open(info) as source, open(out, "wb") as sink:
            while chunk := source.read(CHUNK_BYTES):
                budget -= len(chunk)
                if budget < 0:
                    raise LimitExceeded("zip_too_large", megabytes=limits.max_zip_bytes / 2**20 + 1,
                                        limit=limits.max_zip_bytes / 2**20)
                sink.write(chunk)
    except OSError as error:  # its message would name the server's file: give only the cause
        raise LimitExceeded("zip_unreadable", name=info.filename, reason=error.strerror or type(error).__name__) from None
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError) as error:
        # Bad CRC, encrypted member, unsupported compression, truncated data.
        raise LimitExceeded("zip_unreadable", name=info.filename, reason=str(error)) from None
    return budget
