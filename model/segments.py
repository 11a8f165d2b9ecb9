"""Cutting and grouping audio for a model: long recordings into windows at pauses, clips into
batches by padded length, cores into threads per batch."""

from __future__ import annotations

import numpy as np

from data_utils.audio import SAMPLE_RATE


def split_on_silence(audio: np.ndarray, window_seconds: float, top_db: float = 35.0) -> list[np.ndarray]:
    """Cut a long recording into chunks of at most `window_seconds`, at pauses where possible."""
    return [audio[a:b] for a, b in silence_cuts(audio, window_seconds, top_db)]


def voiced_spans(audio: np.ndarray, top_db: float = 35.0) -> list[tuple[int, int]]:
    """(start, end) samples of the stretches within `top_db` of the audio's loudest."""
    import librosa

    return [(int(a), int(b)) for a, b in librosa.effects.split(audio, top_db=top_db, frame_length=1024, hop_length=256)]


def last_pause(spans: list[tuple[int, int]], start: int, limit: int) -> int | None:
    """The middle of the last pause between `spans` after `start` that keeps a chunk from
    `start` within `limit` samples; None when there is none."""
    gaps = [(e0, s1) for (_, e0), (s1, _) in zip(spans[:-1], spans[1:]) if start < e0 and s1 - start <= limit]
    return (gaps[-1][0] + gaps[-1][1]) // 2 if gaps else None


def silence_cuts(audio: np.ndarray, window_seconds: float, top_db: float = 35.0) -> list[tuple[int, int]]:
    """(start, end) samples of `split_on_silence`'s chunks."""
    limit = int(window_seconds * SAMPLE_RATE)
    if len(audio) <= limit:
        return [(0, len(audio))]
    spans = voiced_spans(audio, top_db)
    cuts, start = [], 0
    while len(audio) - start > limit:
        cut = last_pause(spans, start, limit) or start + limit  # else a hard cut
        cuts.append((start, cut))
        start = cut
    cuts.append((start, len(audio)))
    return [(a, b) for a, b in cuts if b - a > SAMPLE_RATE // 100]


def batches_by_seconds(lengths: list[int], batch_seconds: float, equal_lengths: bool = False) -> list[list[int]]:
    """Indices sorted by length, grouped so that batch size x longest <= batch_seconds; with
    `equal_lengths`, a batch holds clips of one length only (nothing is padded)."""
    limit = int(batch_seconds * SAMPLE_RATE)
    batches, current, longest = [], [], 0
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        candidate = max(longest, lengths[index])
        unequal = equal_lengths and current and lengths[index] != longest
        if current and (candidate * (len(current) + 1) > limit or unequal):
            batches.append(current)
            current, candidate = [], lengths[index]
        current.append(index)
        longest = candidate
    if current:
        batches.append(current)
    return batches


def threads_per_batch(threads: int, parallel_batches: int) -> int:
    """Torch threads for each of `parallel_batches` batches sharing `threads` in all."""
    return max(1, threads // parallel_batches)
