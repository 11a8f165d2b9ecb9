"""Long recordings (lectures, meetings): decoded through ffmpeg on a pipe and transcribed window
by window, so memory holds a few windows of audio and their features, never the whole file.

    ffmpeg -> 16 kHz mono float32 blocks -> windows cut at pauses (`silence_cuts`, energy based)
           -> `Predictor.predict_arrays`, a few windows at a time -> one `Prediction`, word times
              offset into the recording, head probabilities averaged over the windows by length

ffmpeg resamples here (its default resampler), where `load_audio` uses soxr's HQ one: a window
of a streamed file and the same audio loaded whole can differ in the last bits of their samples.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from data_utils.audio import SAMPLE_RATE, AudioError, AudioTooLong
from model.predict import Predictor
from model.prediction import Prediction, join_pieces
from model.segments import silence_cuts

BLOCK_SECONDS = 30.0
# Windows of a long recording end at the last pause within 8 s: utterance-sized, as models are
# trained. Packed up to 20 s, several sentences per window, the demo model read a 20-minute file
# at CER 0.40 against the clips it was made of.
SEGMENT_SECONDS = 8.0


def stream_audio(path, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """A file as 16 kHz mono float32 blocks of `block_seconds`, decoded by ffmpeg on a pipe."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
               "-f", "f32le", "-"]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise AudioError(path, "ffmpeg is not installed; it is needed for long recordings") from None
    block_bytes = int(block_seconds * SAMPLE_RATE) * 4
    try:
        while data := process.stdout.read(block_bytes):
            yield np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
    finally:
        process.stdout.close()
        error = process.stderr.read().decode("utf-8", errors="replace").strip()
        process.stderr.close()
        if process.wait() != 0 and error:
            raise AudioError(path, f"cannot decode ({error.splitlines()[-1][:200]})")


def windows(blocks, window_seconds: float) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, window) of at most `window_seconds`, cut at the last pause that fits."""
    limit = int(window_seconds * SAMPLE_RATE)
    buffer, start = np.zeros(0, np.float32), 0
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        while len(buffer) > limit:
            _, cut = silence_cuts(buffer, window_seconds)[0]
            yield trimmed(start, buffer[:cut])
            buffer, start = buffer[cut:], start + cut
    if len(buffer) > SAMPLE_RATE // 100:
        yield trimmed(start, buffer)


def trimmed(start: int, window: np.ndarray, margin_seconds: float = 0.2, top_db: float = 35.0) -> tuple[int, np.ndarray]:
    """The window without the silence around its speech (a margin kept): a model trained on
    utterances reads half a second of silence on each side worse, and the window is normalised
    over its own samples."""
    import librosa

    intervals = librosa.effects.split(window, top_db=top_db, frame_length=1024, hop_length=256)
    if len(intervals) == 0:
        return start, window
    margin = int(margin_seconds * SAMPLE_RATE)
    first, last = max(0, int(intervals[0][0]) - margin), min(len(window), int(intervals[-1][1]) + margin)
    return start + first, window[first:last]


def transcribe_long(predictor: Predictor, path, max_seconds: float | None = None, windows_at_once: int = 4,
                    progress: Callable[[float], None] | None = None) -> Prediction:
    """One `Prediction` for a recording of any length up to `max_seconds` (a longer one raises
    `AudioTooLong` once that much was read); `progress` is told the seconds done so far."""
    pieces, pending, total = [], [], 0

    def flush():
        starts, audio = zip(*pending)
        pieces.extend((start / SAMPLE_RATE, p) for start, p in zip(starts, predictor.predict_arrays(list(audio))))
        pending.clear()
        if progress:
            progress(total / SAMPLE_RATE)

    for start, window in windows(stream_audio(path), min(predictor.window_seconds, SEGMENT_SECONDS)):
        total = start + len(window)
        if max_seconds is not None and total > max_seconds * SAMPLE_RATE:
            raise AudioTooLong(path, total / SAMPLE_RATE, max_seconds)
        pending.append((start, window))
        if len(pending) == windows_at_once:
            flush()
    if pending:
        flush()
    if total == 0:
        raise AudioError(path, "no audio samples")
    joined = join_pieces(pieces, {h: predictor.model.labels[h] for h in predictor.heads}, total / SAMPLE_RATE)
    joined.path = str(Path(path))
    return joined
