"""Cut utterances out of long recordings (rows with `start`,`end`) into their own 16 kHz wav files.

Everything downstream then sees one file per utterance. A segment is written as
`OUT/segments/<recording stem>/<stem>_<start ms>-<end ms>.wav`: the same corpus always gives
the same names, so a second run overwrites rather than duplicates.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from data_utils.audio import SAMPLE_RATE, SILENCE_PEAK, AudioError, load_audio, write_wav
from data_utils.corpora.common import Rejection

TOLERANCE = 0.05  # seconds an `end` may overshoot the recording (label rounding)


def _bounds(row: dict, duration: float) -> tuple[float, float]:
    """(start, end) in seconds, checked against the recording; ValueError says what is wrong."""
    try:
        start, end = float(row["start"]), float(row["end"])
    except (TypeError, ValueError):
        raise ValueError(f"start/end not numbers: {row['start']!r}, {row['end']!r}") from None
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise ValueError(f"not a time span: [{row['start']}, {row['end']}]")
    if end > duration + TOLERANCE:
        raise ValueError(f"[{start:.2f}, {end:.2f}] s ends after the recording ({duration:.2f} s)")
    return start, min(end, duration)


def _folder_for(source: Path, out_dir: Path, taken: dict[str, Path]) -> Path:
    """One folder per recording, named by its stem (suffixed when two recordings share a stem)."""
    name, n = source.stem, 1
    while taken.get(name, source) != source:
        n += 1
        name = f"{source.stem}~{n}"
    taken[name] = source
    return out_dir / name


def cut_segments(rows: pd.DataFrame, out_dir: Path) -> tuple[pd.DataFrame, list[Rejection]]:
    """Write each segment row's audio to its own file; rows come back with `path` and `duration` set."""
    kept, rejected, taken = [], [], {}
    for source, group in rows.groupby("path", sort=True):
        source = Path(source)
        try:
            audio = load_audio(source, max_seconds=None, allow_silence=True)
        except AudioError as error:
            rejected += [Rejection(str(source), "undecodable audio", f"{error.reason} (segment "
                                   f"[{r['start']}, {r['end']}])") for r in group.to_dict("records")]
            continue
        folder = _folder_for(source, out_dir, taken)
        for row in group.to_dict("records"):
            where = f"{source}#{row['start']}-{row['end']}"
            try:
                start, end = _bounds(row, len(audio) / SAMPLE_RATE)
            except ValueError as error:
                rejected.append(Rejection(where, "bad segment", str(error)))
                continue
            piece = audio[int(round(start * SAMPLE_RATE)): int(round(end * SAMPLE_RATE))]
            if float(np.abs(piece).max(initial=0.0)) < SILENCE_PEAK:
                rejected.append(Rejection(where, "silent audio", "segment has no signal above -80 dBFS"))
                continue
            target = folder / f"{source.stem}_{round(start * 1000):07d}-{round(end * 1000):07d}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            write_wav(target, piece)
            kept.append({**row, "path": str(target), "duration": len(piece) / SAMPLE_RATE})
    return pd.DataFrame(kept, columns=list(dict.fromkeys([*rows.columns, "duration"]))), rejected
