"""What every corpus loader shares: its result type, safe paths inside the corpus, and
reading the metadata files users have (UTF-8 with or without BOM, or cp949; CSV or TSV).

A loader turns a corpus in its native layout into rows with the canonical label columns
(`path` absolute, `text` as written, labels as the corpus spells them) and a list of
rejected rows with reasons. Checking audio and text, normalising labels and splitting
happen afterwards, the same way for every corpus (`data_utils.prepare`).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from data_utils.audio import AUDIO_SUFFIXES
from data_utils.manifest import HEADS

# Columns a loader fills; `start`,`end` (seconds) only when a row is a segment of a longer file.
ROW_COLUMNS = ["path", "text", *HEADS, "speaker", "source"]
SEGMENT_COLUMNS = ["start", "end"]
TEXT_ENCODINGS = ("utf-8-sig", "cp949")  # what Korean corpora and spreadsheet exports come in


class CorpusError(ValueError):
    """The corpus as a whole cannot be read (no metadata file, no usable columns)."""


class UnsafePath(ValueError):
    """A path in the metadata that cannot be used: empty, or pointing outside the corpus folder."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason  # the report category
        super().__init__(detail)


@dataclass
class Rejection:
    path: str
    reason: str  # a short category, counted in the report
    detail: str = ""  # what exactly was wrong with this row


@dataclass
class LoadResult:
    rows: pd.DataFrame
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts about the corpus worth printing once

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.rejected)


def make_rows(records: list[dict]) -> pd.DataFrame:
    """Records -> a frame with every row column present, all values strings ('' = unknown)."""
    columns = ROW_COLUMNS + (SEGMENT_COLUMNS if any("start" in r for r in records) else [])
    frame = pd.DataFrame.from_records(records, columns=columns) if records else pd.DataFrame(columns=columns)
    return frame.fillna("").astype(str)


# --- paths ------------------------------------------------------------------------------------

def resolve_inside(root: Path, value: str | os.PathLike) -> Path:
    """`value` (relative to `root`, or absolute) as an absolute path that must stay inside `root`.

    Checked lexically (`..` collapsed, symlinks not followed) so that a corpus may link its
    audio folder elsewhere, while `../../etc/passwd` or `/etc/passwd` in a metadata file is refused.
    """
    text = str(value).strip().replace("\\", "/")  # Windows-made lists
    if not text:
        raise UnsafePath("no audio path", "the metadata names no audio file")
    if "\x00" in text:
        raise UnsafePath("path outside corpus", "path contains a NUL byte")
    base = Path(os.path.abspath(root))
    candidate = Path(os.path.normpath(base / text))
    real_base = Path(os.path.realpath(root))
    if candidate.is_relative_to(base) or candidate.is_relative_to(real_base):
        return candidate
    raise UnsafePath("path outside corpus", f"{text} leaves the corpus folder {base}")


def audio_files(root: Path) -> list[Path]:
    """Every audio file under `root`, sorted (by suffix, case-insensitive)."""
    return sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def find_audio(folder: Path, stem: str) -> Path | None:
    """The audio file `folder/stem.<audio suffix>`, whatever the suffix."""
    for suffix in AUDIO_SUFFIXES:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


# --- metadata files ---------------------------------------------------------------------------

def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Bytes -> text: the given encoding, else UTF-8 (BOM stripped), else cp949."""
    if encoding:
        return data.decode(encoding)
    for candidate in TEXT_ENCODINGS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8/cp949", data[:16], 0, 1, "neither UTF-8 nor cp949")


def read_text_file(path: Path, encoding: str | None = None) -> str:
    return decode_text(Path(path).read_bytes(), encoding)


def sniff_delimiter(header: str) -> str:
    """The separator of a table from its header line: whichever candidate occurs most."""
    counts = {sep: header.count(sep) for sep in ("\t", ",", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_table(path: Path, delimiter: str | None = None, encoding: str | None = None,
               bad_lines: list[list[str]] | None = None) -> pd.DataFrame:
    """A CSV/TSV metadata file as strings ('' for empty cells), whatever its encoding.

    Tab-separated files are read without quote handling, as Common Voice writes them: a
    sentence that starts with `"` is text, not a quoted field. Lines with too many fields are
    collected in `bad_lines` (when given) instead of stopping the read.
    """
    path = Path(path)
    try:
        text = read_text_file(path, encoding)
    except FileNotFoundError:
        raise CorpusError(f"{path}: metadata file not found") from None
    except (UnicodeDecodeError, LookupError) as error:
        raise CorpusError(f"{path}: cannot decode ({error})") from None
    delimiter = delimiter or sniff_delimiter(text.split("\n", 1)[0])
    collected = bad_lines if bad_lines is not None else []
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, engine="python",
            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
            on_bad_lines=lambda fields: collected.append(fields),
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as error:
        raise CorpusError(f"{path}: not a readable table ({error})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna("")


def pick_column(frame: pd.DataFrame, aliases: tuple[str, ...] | list[str]) -> str | None:
    """The first column of `frame` named like one of `aliases` (case-insensitive)."""
    lowered = {c.lower(): c for c in frame.columns}
    return next((lowered[a.lower()] for a in aliases if a.lower() in lowered), None)


def parse_mapping(text: str | dict | None) -> dict[str, str]:
    """'path=wav,text=sentence' -> {'path': 'wav', 'text': 'sentence'}."""
    if not text:
        return {}
    if isinstance(text, dict):
        return dict(text)
    mapping = {}
    for item in str(text).split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise CorpusError(f"column mapping {item!r} is not of the form canonical=column")
        mapping[key.strip()] = value.strip()
    return mapping
