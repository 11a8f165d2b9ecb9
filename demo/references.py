"""Reference transcripts (and speaker labels) uploaded beside audio, matched by file name.

Accepted: the canonical manifest (`path,text,age,gender,accent,speaker,duration`) or any CSV
with a file column (`path`, `file`, `filename`, `audio`) and a transcript column (`text`,
`transcript`, `reference`, `sentence`). Only the file *name* is used for matching: uploads
arrive under temporary server paths, so folders in the CSV cannot mean anything here.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pandas as pd

from data_utils.manifest import normalize_accent, normalize_age, normalize_gender
from data_utils.text import TextNormalizer
from demo.errors import LocalizedError

FILE_COLUMNS = ("path", "file", "filename", "file_name", "audio", "wav")
TEXT_COLUMNS = ("text", "transcript", "transcription", "reference", "sentence")
LABEL_COLUMNS = {"age": normalize_age, "gender": normalize_gender, "accent": normalize_accent}


class ReferencesError(LocalizedError):
    """A references file that cannot be used."""


def file_key(path: str) -> str:
    """The name a file is matched by: its base name, whatever the path style."""
    return PurePosixPath(str(path).replace("\\", "/")).name


def _pick(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[c] for c in candidates if c in lowered), None)


def read_references(path) -> pd.DataFrame:
    """Index: file name; columns: text (normalised), age, gender, accent ('' when unknown)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ReferencesError("references_unreadable", reason=str(error).splitlines()[0] if str(error) else "") from None
    file_column, text_column = _pick(list(frame.columns), FILE_COLUMNS), _pick(list(frame.columns), TEXT_COLUMNS)
    if file_column is None or text_column is None:
        raise ReferencesError("references_columns", columns=", ".join(frame.columns))
    normalizer = TextNormalizer()
    out = pd.DataFrame({
        "key": [file_key(p) for p in frame[file_column]],
        "text": [normalizer(t) or "" for t in frame[text_column]],
    })
    for label, normalize in LABEL_COLUMNS.items():
        column = _pick(list(frame.columns), (label,))
        out[label] = [normalize(v) for v in frame[column]] if column else ""
    # The first row wins when two rows name the same file.
    return out.drop_duplicates("key").set_index("key")
