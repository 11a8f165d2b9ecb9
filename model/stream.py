"""Long recordings (lectures, meetings): decoded through ffmpeg on a pipe and transcribed
utterance by utterance, so memory holds a minute of audio and its features, never the whole file.

    ffmpeg -> 16 kHz mono float32 blocks -> utterances cut at pauses (`utterance_cuts`, energy based)
           -> `Predictor.predict_arrays`, a few utterances at a time -> one `Prediction`, word times
              offset into the recording, head probabilities averaged over the utterances by length

ffmpeg resamples here (its default resampler), where `load_audio` uses soxr's HQ one: an utterance
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
from model.segments import MARGIN_SECONDS, MIN_PAUSE_SECONDS, utterance_cuts

BLOCK_SECONDS = 30.0


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


def utterances(blocks, max_seconds: float) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, audio) of each utterance in a stream of blocks, cut as `utterance_cuts`
    cuts a whole recording. An utterance is given out once a pause has followed it; the buffer
    holds the unfinished one (at most `max_seconds`) and the block that came last."""
    pause = int((MIN_PAUSE_SECONDS - MARGIN_SECONDS) * SAMPLE_RATE)  # silence after a cut's margin
    lead_in = int(MARGIN_SECONDS * SAMPLE_RATE)
    buffer, start = np.zeros(0, np.float32), 0
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        cuts = utterance_cuts(buffer, max_seconds)
        finished = [(a, b) for a, b in cuts if b + pause <= len(buffer)]
        for a, b in finished:
            yield start + a, buffer[a:b]
        if len(finished) < len(cuts):
            keep = cuts[len(finished)][0]
        else:  # silence after the last utterance: kept only as the next one's lead-in
            keep = max(finished[-1][1] if finished else 0, len(buffer) - lead_in)
        buffer, start = buffer[keep:], start + keep
    for a, b in utterance_cuts(buffer, max_seconds):
        yield start + a, buffer[a:b]


def transcribe_long(predictor: Predictor, path, max_seconds: float | None = None, seconds_at_once: float = 60.0,
                    progress: Callable[[float], None] | None = None) -> Prediction:
    """One `Prediction` for a recording of any length up to `max_seconds` (a longer one raises
    `AudioTooLong` once that much was read); `progress` is told the seconds done so far.
    Utterances are transcribed `seconds_at_once` of audio at a time: batches enough to keep the
    cores busy, few enough to bound memory."""
    pieces, pending, read = [], [], [0]

    def counted(blocks):
        for block in blocks:
            read[0] += len(block)
            if max_seconds is not None and read[0] > max_seconds * SAMPLE_RATE:
                raise AudioTooLong(path, read[0] / SAMPLE_RATE, max_seconds)
            yield block

    def flush():
        starts, audio = zip(*pending)
        pieces.extend((start / SAMPLE_RATE, p) for start, p in zip(starts, predictor.predict_arrays(list(audio))))
        pending.clear()
        if progress:
            progress(read[0] / SAMPLE_RATE)

    for start, utterance in utterances(counted(stream_audio(path)), predictor.window_seconds):
        pending.append((start, utterance))
        if sum(len(u) for _, u in pending) >= seconds_at_once * SAMPLE_RATE:
            flush()
    if pending:
        flush()
    if read[0] == 0:
        raise AudioError(path, "no audio samples")
    joined = join_pieces(pieces, {h: predictor.model.labels[h] for h in predictor.heads}, read[0] / SAMPLE_RATE)
    joined.path = str(Path(path))
    return joined
