"""KSS (Korean Single Speaker speech): one female voice actor reading scripted sentences.

Two metadata layouts: `transcripts.csv` with `path,sentence` (the clips sample), or the
original `transcript.v.1.x.txt`, `|`-separated:
`1/1_0000.wav|original script|expanded script|decomposed|seconds|English`, where the
expanded script (numbers spelled out as read) is the transcript. Audio paths are relative to
the metadata file. Every row gets speaker `kss` and gender `female` (the corpus's own
description), so a split of KSS alone cannot be speaker-disjoint.
"""

from __future__ import annotations

from pathlib import Path

from data_utils.corpora.common import (
    CorpusError,
    LoadResult,
    Rejection,
    UnsafePath,
    make_rows,
    read_table,
    read_text_file,
    resolve_inside,
)

SPEAKER = {"speaker": "kss", "gender": "female", "source": "kss"}


def _metadata(input_path: Path) -> Path:
    if input_path.is_file():
        return input_path
    found = [input_path / "transcripts.csv"] + sorted(input_path.glob("transcript*.txt"))
    for candidate in found:
        if candidate.is_file():
            return candidate
    raise CorpusError(f"{input_path}: neither transcripts.csv nor transcript.v.*.txt found")


def _entries(metadata: Path) -> tuple[list[tuple[str, str]], list[Rejection]]:
    """(audio path as written, transcript) per line."""
    if metadata.suffix.lower() == ".csv":
        table = read_table(metadata, delimiter=",")
        if not {"path", "sentence"} <= set(table.columns):
            raise CorpusError(f"{metadata}: expected columns path,sentence (have {', '.join(table.columns)})")
        return list(zip(table["path"], table["sentence"])), []
    entries, rejected = [], []
    for number, line in enumerate(read_text_file(metadata).splitlines(), start=1):
        fields = line.split("|")
        if len(fields) >= 3:
            entries.append((fields[0], fields[2]))
        elif line.strip():
            rejected.append(Rejection("", "malformed metadata line", f"{metadata.name}:{number}: {line[:80]}"))
    return entries, rejected


def load(input_path: Path) -> LoadResult:
    metadata = _metadata(Path(input_path).absolute())
    entries, rejected = _entries(metadata)
    records = []
    for name, text in entries:
        try:
            path = resolve_inside(metadata.parent, name)
        except UnsafePath as error:
            rejected.append(Rejection(name, error.reason, str(error)))
            continue
        records.append({"path": str(path), "text": text, **SPEAKER})
    return LoadResult(make_rows(records), rejected)
