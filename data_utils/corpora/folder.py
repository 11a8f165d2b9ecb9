"""A folder of audio files with same-stem transcript `.txt` files, plus an optional speaker table.

Layouts understood (both at once, at any depth):

    SPK/x.wav   SPK/x.txt                                   transcript beside the audio
    SPK/wav/x.flac   SPK/transcript/x.txt   SPK/script/x.txt   sibling folders (emotiontts)

`transcript_dirs` gives the sibling folder names in order of preference: `transcript/`
(spelled out as spoken) before `script/` (as written, with digits). Transcripts may be UTF-8
with BOM and CRLF, or cp949. The speaker is the first folder under the input (`SPK`), empty
for files directly in it. A speaker table (CSV/TSV, one or more rows per speaker) adds labels,
joined on `speaker_column`: gender, age and accent are found by the usual column names
(`sex`, `age_group`, `dialect`, ...) or given as `columns="age=age_group,accent=dialect"`.
"""

from __future__ import annotations

from pathlib import Path

from data_utils.corpora.common import (
    AUDIO_SUFFIXES,
    CorpusError,
    LoadResult,
    Rejection,
    make_rows,
    parse_mapping,
    read_table,
    read_text_file,
)
from data_utils.corpora.table import map_columns
from data_utils.manifest import HEADS

AUDIO_DIRS = ("wav", "wavs", "audio", "flac", "mp3", "clips")


def _unit(path: Path, layout_dirs: set[str]) -> tuple[Path, str]:
    """(folder of the utterance, stem): `SPK/wav/x.flac` and `SPK/transcript/x.txt` share `(SPK, x)`."""
    folder = path.parent.parent if path.parent.name.lower() in layout_dirs else path.parent
    return folder, path.stem


def _speaker_of(folder: Path, root: Path) -> str:
    parts = folder.relative_to(root).parts
    return parts[0] if parts else ""


def _transcripts(root: Path, transcript_dirs: tuple[str, ...], layout_dirs: set[str]) -> dict:
    """(folder, stem) -> transcript files, best first (beside the audio, then `transcript_dirs` in order)."""
    rank = {name.lower(): i + 1 for i, name in enumerate(transcript_dirs)}
    found: dict[tuple[Path, str], list[tuple[int, Path]]] = {}
    for text_file in sorted(root.rglob("*.txt")):
        here = text_file.parent.name.lower()
        if here in layout_dirs and here not in rank:
            continue  # a .txt inside an audio folder belongs to no utterance layout we know
        found.setdefault(_unit(text_file, layout_dirs), []).append((rank.get(here, 0), text_file))
    return {unit: [p for _, p in sorted(files)] for unit, files in found.items()}


def speaker_labels(table_path: Path, speaker_column: str, columns: str | dict | None,
                   delimiter: str | None = None, encoding: str | None = None) -> tuple[dict[str, dict], list[str]]:
    """speaker -> {age, gender, accent} from a table with one or more rows per speaker."""
    table = read_table(table_path, delimiter=delimiter, encoding=encoding)
    if speaker_column not in table.columns:
        raise CorpusError(f"{table_path}: no speaker column {speaker_column!r} (have {', '.join(table.columns)})")
    mapping = {k: v for k, v in map_columns(table, parse_mapping(columns), table_path).items() if k in HEADS}
    notes, labels = [], {}
    for speaker, rows in table.groupby(speaker_column, sort=True):
        entry = {}
        for label, column in mapping.items():
            values = sorted({v.strip() for v in rows[column] if v.strip()})
            entry[label] = values[0] if values else ""
            if len(values) > 1:
                notes.append(f"speaker {speaker}: several {label} values {values}; kept {values[0]!r}")
        labels[str(speaker).strip()] = entry
    notes.append(f"speaker table {table_path.name}: {len(labels)} speakers; labels from columns "
                 + ", ".join(f"{k}={v}" for k, v in mapping.items()))
    return labels, notes


def load(input_path: Path, speaker_table: Path | None = None, speaker_column: str = "speaker",
         columns: str | dict | None = None, transcript_dirs: tuple[str, ...] | str = ("transcript", "script"),
         delimiter: str | None = None, encoding: str | None = None) -> LoadResult:
    root = Path(input_path).absolute()
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    if isinstance(transcript_dirs, str):
        transcript_dirs = tuple(d.strip() for d in transcript_dirs.split(",") if d.strip())
    layout_dirs = set(AUDIO_DIRS) | {d.lower() for d in transcript_dirs}
    labels, notes = ({}, [])
    if speaker_table:
        labels, notes = speaker_labels(Path(speaker_table), speaker_column, columns, delimiter, encoding)

    transcripts = _transcripts(root, transcript_dirs, layout_dirs)
    audio = [p for p in sorted(root.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()]
    records, rejected, units_with_audio = [], [], set()
    for path in audio:
        unit = _unit(path, layout_dirs)
        units_with_audio.add(unit)
        candidates = transcripts.get(unit)
        if not candidates:
            rejected.append(Rejection(str(path), "no transcript", f"no {path.stem}.txt beside it or in "
                                      + "/".join(transcript_dirs)))
            continue
        try:
            text = read_text_file(candidates[0])
        except UnicodeDecodeError as error:
            rejected.append(Rejection(str(path), "unreadable transcript", f"{candidates[0]}: {error}"))
            continue
        speaker = _speaker_of(unit[0], root)
        records.append({"path": str(path), "text": text, "speaker": speaker, "source": "folder",
                        **labels.get(speaker, {})})
    for unit, candidates in transcripts.items():
        if unit not in units_with_audio:
            rejected.append(Rejection(str(candidates[0]), "missing audio", f"transcript {candidates[0].name} "
                                      "has no audio file"))
    if labels:
        unmatched = sorted({r["speaker"] for r in records} - set(labels))
        if unmatched:
            notes.append(f"{len(unmatched)} speaker(s) not in the speaker table (labels unknown): {', '.join(unmatched[:10])}")
    return LoadResult(make_rows(records), rejected, notes)
