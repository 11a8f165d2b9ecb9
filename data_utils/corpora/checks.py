"""Check loaded rows the same way for every corpus: one reason per rejected row, never a crash.

In order: duplicate rows, missing audio, empty text (after `TextNormalizer`), then the audio
itself: the header gives the duration (`audio_info`), and with `decode=True` the samples are
decoded too (`load_audio`), which catches truncated files, silence and overlong recordings.
Kept rows carry the normalised text and the measured duration; segments of long recordings
(rows with `start`,`end`) are cut into files under `segment_dir`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_utils.audio import AudioError, audio_info, load_audio
from data_utils.corpora.common import Rejection
from data_utils.corpora.segments import cut_segments
from data_utils.text import TextNormalizer


def audio_reason(error: AudioError) -> str:
    """The report category of an audio failure."""
    if error.reason.startswith("silent"):
        return "silent audio"
    if error.reason.startswith("too long"):
        return "audio too long"
    if error.reason.startswith("file not found"):
        return "missing audio"
    return "undecodable audio"


def measure(path: str, decode: bool) -> float:
    """Duration in seconds; raises AudioError when the file is not usable speech."""
    duration = audio_info(path, max_seconds=None).duration  # a local corpus: any length
    if decode:
        load_audio(path)  # the header can be fine while the data is not
    return duration


def _is_segment(row: dict) -> bool:
    return bool(str(row.get("start", "")).strip() or str(row.get("end", "")).strip())


def check_rows(rows: pd.DataFrame, normalizer: TextNormalizer | None = None, decode: bool = True,
               segment_dir: Path | None = None) -> tuple[pd.DataFrame, list[Rejection]]:
    normalizer = normalizer or TextNormalizer()
    whole, segments, rejected, seen = [], [], [], set()
    for row in rows.to_dict("records"):
        key = (row["path"], str(row.get("start", "")), str(row.get("end", "")))
        if key in seen:
            rejected.append(Rejection(row["path"], "duplicate row", "the same audio (and span) is listed twice"))
            continue
        seen.add(key)
        if not Path(row["path"]).is_file():
            rejected.append(Rejection(row["path"], "missing audio", "no such file"))
            continue
        text = normalizer(row["text"])
        if not text:
            detail = "dropped by the text policy" if text is None else f"nothing left of {row['text'][:60]!r}"
            rejected.append(Rejection(row["path"], "empty text", detail))
            continue
        row["text"] = text
        if _is_segment(row):
            segments.append(row)
            continue
        try:
            row["duration"] = measure(row["path"], decode)
        except AudioError as error:
            rejected.append(Rejection(row["path"], audio_reason(error), error.reason))
            continue
        whole.append(row)
    kept = pd.DataFrame(whole, columns=[*rows.columns, "duration"])
    if segments:
        if segment_dir is None:
            raise ValueError("rows are segments of longer recordings: a segment_dir to write them to is needed")
        cut, refused = cut_segments(pd.DataFrame(segments), Path(segment_dir))
        kept, rejected = pd.concat([kept, cut], ignore_index=True), rejected + refused
    return kept.drop(columns=["start", "end"], errors="ignore").reset_index(drop=True), rejected
