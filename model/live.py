"""Live transcription: audio arrives in small chunks (a microphone) and the transcript grows.

    ffmpeg -f pulse -i default -ac 1 -ar 16000 -f s16le - | python -m model.live --model demo/model

The audio not yet committed is re-decoded as it grows (the tentative text); at a pause (by
default 0.6 s quieter than the speech by `top_db`) or when it reaches `max_window_seconds`
(cut at its last pause) it is decoded once more and committed, and dropped from memory. So
memory holds at most one window of audio, and each committed piece is decoded the way a
recording is: a whole utterance at a time.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import soxr

from data_utils.audio import SAMPLE_RATE
from model.predict import Predictor
from model.segments import last_pause, voiced_spans


@dataclass
class LiveTranscript:
    committed: list[str] = field(default_factory=list)  # pieces that will not change
    spans: list[tuple[float, float]] = field(default_factory=list)  # each piece's (start, end), session seconds
    tentative: str = ""  # the current, uncommitted piece: may change with more audio

    @property
    def text(self) -> str:
        return " ".join([*self.committed, self.tentative]).strip()


def as_float32(samples: np.ndarray) -> np.ndarray:
    """Integer PCM (what browsers' recorders give) or float -> mono float32 in [-1, 1]."""
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples / float(np.iinfo(samples.dtype).max + 1)
    if samples.ndim == 2:  # (samples, channels), as Gradio gives it
        samples = samples.mean(axis=1)
    return samples.astype(np.float32)


class LiveTranscriber:
    """One live session: `feed` chunks as they arrive, `finish` at the end."""

    def __init__(self, predictor: Predictor, pause_seconds: float = 0.6, max_window_seconds: float = 12.0,
                 decode_every_seconds: float = 1.0, top_db: float = 35.0):
        self.predictor = predictor
        self.pause = int(pause_seconds * SAMPLE_RATE)
        self.max_window = int(max_window_seconds * SAMPLE_RATE)
        self.decode_every = int(decode_every_seconds * SAMPLE_RATE)
        self.top_db = top_db
        self.pending = np.zeros(0, dtype=np.float32)
        self.transcript = LiveTranscript()
        self.heard_samples = 0
        self.offset = 0  # where `pending` starts, in samples since the session began
        self._undecoded = 0  # samples fed since the tentative text was decoded
        self._resampler: tuple[int, soxr.ResampleStream] | None = None

    def feed(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> LiveTranscript:
        audio = self._resample(as_float32(samples), sample_rate)
        self.pending = np.concatenate([self.pending, audio])
        self.heard_samples += len(audio)
        self._undecoded += len(audio)
        voiced = self.voiced(self.pending)
        if not voiced:
            # Nothing said yet: keep a little of the silence as the next utterance's lead-in.
            self._drop(max(0, len(self.pending) - self.pause))
            self.transcript.tentative = ""
        elif len(self.pending) - voiced[-1][1] >= self.pause:
            self._commit(voiced[-1][1] + self.pause // 2, voiced)
        elif len(self.pending) >= self.max_window:
            self._commit(last_pause(voiced, 0, self.max_window) or self.max_window, voiced)
        elif self._undecoded >= self.decode_every:
            self.transcript.tentative = self._decode(self._speech(self.pending, voiced))
            self._undecoded = 0
        return self.transcript

    def finish(self) -> LiveTranscript:
        """Commit what is left (the person stopped mid-sentence or right after it)."""
        if self._resampler is not None:
            self.pending = np.concatenate([self.pending, self._resampler[1].resample_chunk(np.zeros(0, np.float32), last=True)])
            self._resampler = None
        voiced = self.voiced(self.pending)
        if voiced:
            self._commit(len(self.pending), voiced)
        self._drop(len(self.pending))
        self.transcript.tentative = ""
        return self.transcript

    def _resample(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        if sample_rate == SAMPLE_RATE:
            return audio
        if self._resampler is None or self._resampler[0] != sample_rate:
            # One stream for the session: chunk edges are filtered as if the audio were whole.
            self._resampler = (sample_rate, soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32"))
        return self._resampler[1].resample_chunk(audio)

    def voiced(self, audio: np.ndarray) -> list[tuple[int, int]]:
        """(start, end) samples of the speech in `audio`."""
        return voiced_spans(audio, self.top_db)

    def _commit(self, cut: int, voiced: list[tuple[int, int]]) -> None:
        """Decode `pending[:cut]` (whose speech `voiced` spans, from `voiced(pending)`) and commit it."""
        text = self._decode(self._speech(self.pending[:cut], [(a, min(b, cut)) for a, b in voiced if a < cut]))
        if text:
            self.transcript.committed.append(text)
            self.transcript.spans.append((self.offset / SAMPLE_RATE, (self.offset + cut) / SAMPLE_RATE))
        self.transcript.tentative = ""
        self._drop(cut)
        self._undecoded = len(self.pending)

    def _drop(self, samples: int) -> None:
        self.pending = self.pending[samples:]
        self.offset += samples

    @staticmethod
    def _speech(audio: np.ndarray, voiced: list[tuple[int, int]]) -> np.ndarray:
        """The voiced part and 0.1 s either side: a piece's leading pause would change the
        waveform normalisation (zero mean, unit variance over the input) and the transcript."""
        if not voiced:
            return audio[:0]
        margin = SAMPLE_RATE // 10
        return audio[max(0, voiced[0][0] - margin): voiced[-1][1] + margin]

    def _decode(self, audio: np.ndarray) -> str:
        return self.predictor.predict_arrays([audio])[0].text if len(audio) else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--rate", type=int, default=SAMPLE_RATE, help="sample rate of the s16le input (default 16000)")
    parser.add_argument("--pause", type=float, default=0.6, help="seconds of pause that end a piece")
    parser.add_argument("--chunk", type=float, default=0.5, help="seconds read at a time")
    args = parser.parse_args(argv)
    live = LiveTranscriber(Predictor.from_pretrained(args.model), pause_seconds=args.pause)
    chunk_bytes = int(args.chunk * args.rate) * 2
    shown = 0
    while True:
        data = sys.stdin.buffer.read(chunk_bytes)
        started = time.perf_counter()
        transcript = live.feed(np.frombuffer(data, dtype="<i2"), args.rate) if data else live.finish()
        for piece in transcript.committed[shown:]:  # one line per committed piece, as soon as it is final
            print(piece, flush=True)
            print(f"  [{live.heard_samples / SAMPLE_RATE:.1f} s heard, decoded in {time.perf_counter() - started:.2f} s]",
                  file=sys.stderr)
        shown = len(transcript.committed)
        if not data:
            break


if __name__ == "__main__":
    main()
