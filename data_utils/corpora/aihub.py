"""AI Hub JSON label files, two schemas, told apart by their keys (one JSON per audio file):

Free conversation (자유대화 음성), one utterance per file:
    {"발화정보": {"stt": text, "fileNm": "x.wav", "recrdTime": ...},
     "대화정보": {...}, "녹음자정보": {"gender": "여", "age": 20, "recorderId": ...}}

Dialect speech (한국어 방언 발화), a long recording cut into utterances:
    {"id": ..., "speaker": [{"id", "age", "sex", "birthplace", "principal_residence", ...}],
     "utterance": [{"form", "standard_form", "dialect_form", "start", "end", "speaker_id", ...}]}
The audio has the JSON's stem; each utterance becomes a row with `start`,`end` (seconds),
which `prepare` cuts into its own wav under OUT/segments/. The text is `form` (as spoken),
else `dialect_form`, else `standard_form` (`text_field` picks another). The accent is the
speaker's principal residence, else birthplace. Speaker ids that look local to one file
(`1`, `A`) are prefixed with the document id.

Audio is looked up next to the JSON, then anywhere under the input (or `audio_root`) by file
name: AI Hub ships labels (라벨링데이터) and audio (원천데이터) in parallel trees.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from data_utils.corpora.common import (
    AUDIO_SUFFIXES,
    LoadResult,
    Rejection,
    UnsafePath,
    audio_files,
    decode_text,
    make_rows,
    resolve_inside,
)

TEXT_FIELDS = ("form", "dialect_form", "standard_form")
EMPTY_TAG = re.compile(r"\([A-Z]{2,}:\)")  # (SN:) (NO:) ...: event marks with no words in them


class AudioIndex:
    """Audio files under a root by name and by stem, built on first use."""

    def __init__(self, root: Path):
        self.root = root
        self._by_name: dict[str, Path] | None = None
        self._by_stem: dict[str, Path] = {}

    def _build(self) -> None:
        self._by_name = {}
        for path in audio_files(self.root):
            self._by_name.setdefault(path.name, path)
            self._by_stem.setdefault(path.stem, path)

    def find(self, label: Path, file_name: str) -> Path | None:
        """Audio for a label file: `file_name` (or the label's stem) beside it, else anywhere under the root."""
        stem = Path(file_name).stem if file_name else label.stem
        if file_name and (label.parent / file_name).is_file():
            return label.parent / file_name
        for suffix in AUDIO_SUFFIXES:
            if (label.parent / f"{stem}{suffix}").is_file():
                return label.parent / f"{stem}{suffix}"
        if self._by_name is None:
            self._build()
        return self._by_name.get(Path(file_name).name) if file_name else self._by_stem.get(stem)


def _first(mapping: dict, keys: tuple[str, ...]) -> str:
    return next((str(mapping[k]).strip() for k in keys if mapping.get(k) not in (None, "")), "")


def _free_conversation(doc: dict, label: Path, root: Path, index: AudioIndex) -> tuple[list[dict], list[Rejection]]:
    info, person = doc.get("발화정보") or {}, doc.get("녹음자정보") or {}
    file_name = _first(info, ("fileNm", "fileName", "filename", "audioFileNm", "wavFileNm"))
    try:
        if file_name:
            resolve_inside(root, label.parent / file_name)  # refuse names like ../../etc/passwd
    except UnsafePath as error:
        return [], [Rejection(file_name, error.reason, f"{label.name}: {error}")]
    audio = index.find(label, file_name)
    if audio is None:
        return [], [Rejection(str(label.parent / (file_name or label.stem)), "missing audio",
                              f"no audio file for {label.name}")]
    return [{
        "path": str(audio), "text": EMPTY_TAG.sub(" ", _first(info, ("stt", "text", "transcription"))),
        "age": _first(person, ("age", "연령")), "gender": _first(person, ("gender", "sex", "성별")),
        "accent": _first(person, ("dialect", "region", "birthplace")),
        "speaker": _first(person, ("recorderId", "speakerId", "id")), "source": "aihub",
    }], []


def _speaker_key(document: str, speaker_id: str) -> str:
    return f"{document}:{speaker_id}" if speaker_id and len(speaker_id) <= 3 else speaker_id


def _dialect(doc: dict, label: Path, index: AudioIndex, text_field: str | None) -> tuple[list[dict], list[Rejection]]:
    document = str(doc.get("id") or label.stem)
    speakers = {str(s.get("id", "")): s for s in doc.get("speaker") or [] if isinstance(s, dict)}
    audio = index.find(label, "")
    utterances = [u for u in doc.get("utterance") or [] if isinstance(u, dict)]
    if audio is None:
        missing = str(label.with_suffix(".wav"))
        return [], [Rejection(missing, "missing audio", f"no audio file {label.stem}.* for utterance "
                              f"{u.get('id', i)}") for i, u in enumerate(utterances)]
    fields = (text_field,) if text_field else TEXT_FIELDS
    records = []
    for utterance in utterances:
        speaker_id = str(utterance.get("speaker_id", "")).strip()
        speaker = speakers.get(speaker_id, {})
        records.append({
            "path": str(audio), "text": _first(utterance, fields),
            "start": str(utterance.get("start", "")), "end": str(utterance.get("end", "")),
            "age": _first(speaker, ("age",)), "gender": _first(speaker, ("sex", "gender")),
            "accent": _first(speaker, ("principal_residence", "birthplace", "current_residence")),
            "speaker": _speaker_key(document, speaker_id), "source": "aihub",
        })
    return records, []


def load(input_path: Path, text_field: str | None = None, audio_root: Path | None = None) -> LoadResult:
    input_path = Path(input_path).absolute()
    root = input_path if input_path.is_dir() else input_path.parent
    labels = sorted(root.rglob("*.json")) if input_path.is_dir() else [input_path]
    index = AudioIndex(Path(audio_root).absolute() if audio_root else root)
    records, rejected = [], []
    for label in labels:
        try:
            doc = json.loads(decode_text(label.read_bytes()))
        except (ValueError, UnicodeDecodeError) as error:
            rejected.append(Rejection(str(label), "unreadable label file", str(error)[:200]))
            continue
        if isinstance(doc, dict) and isinstance(doc.get("utterance"), list):
            found, refused = _dialect(doc, label, index, text_field)
        elif isinstance(doc, dict) and isinstance(doc.get("발화정보"), dict):
            found, refused = _free_conversation(doc, label, root, index)
        else:
            found, refused = [], [Rejection(str(label), "unknown label schema",
                                            "neither 발화정보 (free conversation) nor utterance[] (dialect)")]
        records += found
        rejected += refused
    return LoadResult(make_rows(records), rejected)
