"""Long recordings: streamed through ffmpeg window by window, with the same words as the clips
they are made of, memory bounded, and subtitles for the whole."""

import subprocess
import sys
from pathlib import Path

import jiwer
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from bench.machine import peak_rss
from tests.app_server import model_dir_or_skip
from tests.test_timestamps import parse_srt

ROOT = Path(__file__).resolve().parents[1]


def test_a_twenty_minute_recording_streams_in_bounded_memory_to_valid_subtitles(tmp_path, synth_corpus):
    model = model_dir_or_skip()
    frame = pd.read_csv(synth_corpus / "manifest.csv")
    clips = [sf.read(synth_corpus / p, dtype="float32")[0] for p in frame["path"]]
    pause = np.zeros(16000, np.float32)
    one_round = np.concatenate([x for clip in clips for x in (clip, pause)])
    rounds = int(np.ceil(20 * 60 * 16000 / len(one_round)))
    long = tmp_path / "lecture.wav"
    sf.write(long, np.tile(one_round, rounds), 16000)
    short = tmp_path / "minute.wav"
    sf.write(short, np.tile(one_round, int(np.ceil(60 * 16000 / len(one_round)))), 16000)

    predict = [sys.executable, "-m", "model.predict", "--model", str(model)]
    subtitles = tmp_path / "subs"
    done, long_peak = peak_rss([*predict, str(long), "--timestamps", "--format", "srt", "--out", str(subtitles)])
    assert done.returncode == 0, done.stderr
    baseline, short_peak = peak_rss([*predict, str(short)])
    assert baseline.returncode == 0, baseline.stderr
    # Loaded whole, 20 minutes would be 38 MB of file bytes, 77 MB of float32 samples and as much
    # again for each copy (normalised, resampled): at least 190 MB over a one-minute file.
    print(f"\npeak RSS: 20-minute file {long_peak / 2**20:.0f} MB, 1-minute file {short_peak / 2**20:.0f} MB")
    assert long_peak < short_peak + 100 * 2**20

    cues = parse_srt((subtitles / "lecture.srt").read_text(encoding="utf-8"))
    assert cues[-1][1] > 19 * 60 and all(cues[i][1] <= cues[i + 1][0] for i in range(len(cues) - 1))
    _LONG["cues"], _LONG["rounds"] = cues, rounds


_LONG: dict = {}


def test_the_streamed_recording_has_the_words_of_its_clips(synth_corpus):
    """The recording is cut into the utterances it was made of: read against the clips' own
    texts, it scores as the clips transcribed one by one do (the demo model reads a clip a little
    differently with other silence around it, so the two transcripts are compared to the truth)."""
    model = model_dir_or_skip()
    if "cues" not in _LONG:
        pytest.skip("needs the 20-minute run of the test above")
    cues, rounds = _LONG["cues"], _LONG["rounds"]
    frame = pd.read_csv(synth_corpus / "manifest.csv")
    predict = [sys.executable, "-m", "model.predict", "--model", str(model)]
    clip_texts = subprocess.run([*predict, *[str(synth_corpus / p) for p in frame["path"]]], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
    texts = pd.read_csv(pd.io.common.StringIO(clip_texts.stdout), keep_default_na=False)["text"].tolist()

    def cer(reference: list[str], hypothesis: str) -> float:
        return jiwer.cer("".join(reference * rounds).replace(" ", ""), hypothesis.replace(" ", ""))

    heard = "".join(text for _, _, text in cues)
    one_by_one = cer(frame["text"].tolist(), "".join(texts))
    streamed = cer(frame["text"].tolist(), heard)
    print(f"\nCER against the clips' texts: one by one {one_by_one:.3f}, streamed {streamed:.3f}; "
          f"streamed against one by one {cer(texts, heard):.3f}")
    assert streamed <= one_by_one + 0.02
    assert cer(texts, heard) < 0.15
