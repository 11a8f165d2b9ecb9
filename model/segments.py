"""Cutting and grouping audio for a model: long recordings into utterances at pauses, clips into
batches by padded length, cores into threads per batch."""

from __future__ import annotations

import numpy as np

from data_utils.audio import SAMPLE_RATE
from data_utils.batching import group_by_length

# A pause this long ends an utterance: sentences in read and spoken Korean are 0.5-1 s apart,
# while pauses inside them (and espeak-ng's at commas) stay under 0.4 s (data/real: 90 % of the
# inner gaps of the test and deeply-read clips under 0.55 s, the longest 0.96 s).
MIN_PAUSE_SECONDS = 0.5
# silence kept on each side of an utterance, as recorded clips have it
MARGIN_SECONDS = 0.2
# Below this peak level (dBFS) a stretch is silence whatever its shape: room noise, a muted mic.
SPEECH_FLOOR_DBFS = -45.0


def voiced_spans(audio: np.ndarray, top_db: float = 35.0) -> list[tuple[int, int]]:
    """(start, end) samples of the stretches within `top_db` of the audio's loudest; none when
    it all stays below the speech floor."""
    import librosa

    if len(audio) == 0 or 20 * np.log10(np.abs(audio).max() + 1e-12) < SPEECH_FLOOR_DBFS:
        return []
    return [(int(a), int(b)) for a, b in librosa.effects.split(audio, top_db=top_db, frame_length=1024, hop_length=256)]


def last_pause(spans: list[tuple[int, int]], start: int, limit: int) -> int | None:
    """The middle of the last pause between `spans` after `start` that keeps a chunk from
    `start` within `limit` samples; None when there is none."""
    gaps = [(e0, s1) for (_, e0), (s1, _) in zip(spans[:-1], spans[1:]) if start < e0 and s1 - start <= limit]
    return (gaps[-1][0] + gaps[-1][1]) // 2 if gaps else None


def utterance_cuts(audio: np.ndarray, max_seconds: float, top_db: float = 35.0,
                   min_pause_seconds: float = MIN_PAUSE_SECONDS) -> list[tuple[int, int]]:
    """(start, end) samples of the utterances in a recording, for a model trained on utterances.

    Cut in every pause of at least `min_pause_seconds`; an utterance still longer than
    `max_seconds` is cut again at its longest pauses (hard cuts where it has none). Each keeps up
    to `MARGIN_SECONDS` of the silence around it. Cutting only where the last pause within the
    window fell packed a sentence and a half into each window, and the demo model read a
    20-minute file at CER 0.36 against the clips it was made of."""
    spans = voiced_spans(audio, top_db)
    if not spans:
        return []
    limit, min_pause = int(max_seconds * SAMPLE_RATE), int(min_pause_seconds * SAMPLE_RATE)
    groups = [[spans[0]]]
    for span in spans[1:]:
        if span[0] - groups[-1][-1][1] >= min_pause:
            groups.append([span])
        else:
            groups[-1].append(span)
    margin = int(MARGIN_SECONDS * SAMPLE_RATE)
    pieces = [piece for group in groups for piece in _within(group, max(limit - 2 * margin, margin))]
    cuts = []
    for i, (start, end) in enumerate(pieces):
        before = (pieces[i - 1][1] + start) // 2 if i else 0
        after = (end + pieces[i + 1][0]) // 2 if i + 1 < len(pieces) else len(audio)
        cuts.append((max(before, start - margin), min(after, end + margin)))
    return cuts


def _within(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Voiced (start, end) of one utterance's `spans`, split at the longest pause until each is
    within `limit` samples."""
    start, end = spans[0][0], spans[-1][1]
    if end - start <= limit:
        return [(start, end)]
    if len(spans) == 1:
        return [(a, min(a + limit, end)) for a in range(start, end, limit)]
    widest = max(range(len(spans) - 1), key=lambda i: spans[i + 1][0] - spans[i][1])
    return _within(spans[: widest + 1], limit) + _within(spans[widest + 1 :], limit)


def batches_by_seconds(lengths: list[int], batch_seconds: float, equal_lengths: bool = False) -> list[list[int]]:
    """Indices sorted by length, grouped so that batch size x longest <= batch_seconds; with
    `equal_lengths`, a batch holds clips of one length only (nothing is padded). Training's
    grouping (`data_utils.batching.group_by_length`), in seconds."""
    return group_by_length(lengths, int(batch_seconds * SAMPLE_RATE), equal_lengths=equal_lengths)


def threads_per_batch(threads: int, parallel_batches: int) -> int:
    """Torch threads for each of `parallel_batches` batches sharing `threads` in all."""
    return max(1, threads // parallel_batches)
