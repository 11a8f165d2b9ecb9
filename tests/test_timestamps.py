"""Word times, confidence and subtitles from the CTC posteriors."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from model.codec import JamoCodec, text_to_jamo
from model.subtitles import make_cues, to_srt, to_vtt
from model.timestamps import word_spans
from tests.app_server import model_dir_or_skip

ROOT = Path(__file__).resolve().parents[1]
CODEC = JamoCodec()
SRT_BLOCK = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+?)\n(?:\n|$)", re.S)


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for match in SRT_BLOCK.finditer(text):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups()[1:9])
        cues.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000, match.group(10)))
    assert sum(len(m.group(0)) for m in SRT_BLOCK.finditer(text)) == len(text), "text outside SRT blocks"
    return cues


def path_logits(frames: list[str]) -> torch.Tensor:
    """Logits whose best path says `frames` (one token or '' for blank per frame)."""
    logits = torch.full((len(frames), len(CODEC)), -5.0)
    for i, token in enumerate(frames):
        logits[i, CODEC.token_to_id[token] if token else CODEC.pad_id] = 5.0
    return logits


def test_word_and_syllable_frames_follow_the_best_path():
    ga, n, a, k = (text_to_jamo("가")[0], text_to_jamo("나")[0], text_to_jamo("가")[1], text_to_jamo("각")[2])
    frames = [ga, ga, "", a, "", k, "", "|", "", n, a, a, ""]
    words = word_spans(torch.log_softmax(path_logits(frames), -1), len(frames), CODEC)
    assert [w.text for w in words] == ["각", "나"]
    assert (words[0].start, words[0].end, words[1].start, words[1].end) == (0, 6, 9, 12)
    assert [(s.text, s.start, s.end) for s in words[0].syllables] == [("각", 0, 6)]
    assert all(0.99 < w.confidence <= 1 for w in words)


def test_cues_split_at_pauses_and_length_and_render():
    class W:
        def __init__(self, text, start, end):
            self.text, self.start, self.end = text, start, end

    words = [W("하나", 0.0, 0.4), W("둘", 0.5, 0.8), W("셋", 2.0, 2.3), W("넷" * 40, 2.4, 3.0)]
    cues = make_cues(words, pause_seconds=0.6, max_chars=32)
    assert [c.text for c in cues] == ["하나 둘", "셋", "넷" * 40]
    assert parse_srt(to_srt(cues))[1] == (2.0, 2.3, "셋")
    assert to_vtt(cues).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.800\n하나 둘\n")


def test_word_start_times_on_clips_with_known_silences(tmp_path, synth_corpus):
    """Clips joined with known silences: where each clip's speech begins is known to the
    sample; the word the model puts nearest must start within 100 ms of it."""
    import pandas as pd

    model = model_dir_or_skip()
    frame = pd.read_csv(synth_corpus / "manifest.csv")
    clips = [sf.read(synth_corpus / p, dtype="float32")[0] for p in frame["path"][:12]]
    silence = np.zeros(16000, np.float32)
    pieces, truth, cursor = [], [], 1.0
    pieces.append(silence)
    for clip in clips:
        onset = int(np.argmax(np.abs(clip) > 0.02))  # first sample of speech in the clip
        truth.append(cursor + onset / 16000)
        pieces += [clip, silence]
        cursor += (len(clip) + len(silence)) / 16000
    long = tmp_path / "joined.wav"
    sf.write(long, np.concatenate(pieces), 16000)
    done = subprocess.run([sys.executable, "-m", "model.predict", "--model", str(model), str(long), "--format", "srt"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cues = parse_srt(done.stdout)
    assert cues and all(a < b for a, b, _ in cues) and all(cues[i][1] <= cues[i + 1][0] for i in range(len(cues) - 1))
    starts = np.array([a for a, _, _ in cues])
    errors = np.array([np.abs(starts - t).min() for t in truth])
    print(f"\nclip-onset error of the nearest cue start over {len(truth)} clips: median {np.median(errors) * 1000:.0f} ms, "
          f"90th percentile {np.percentile(errors, 90) * 1000:.0f} ms, max {errors.max() * 1000:.0f} ms")
    assert np.mean(errors <= 0.1) >= 0.75


def test_json_lines_carry_words_with_times_and_confidence(tmp_path):
    import json

    model = model_dir_or_skip()
    clip = sorted((ROOT / "demo" / "examples").glob("*.wav"))[0]
    done = subprocess.run([sys.executable, "-m", "model.predict", "--model", str(model), str(clip), "--format", "json",
                           "--timestamps"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[0])
    words = record["words"]
    assert " ".join(w["text"] for w in words) == record["text"]
    assert all(0 <= w["start"] < w["end"] <= record["duration"] + 0.02 for w in words)
    assert all(0 < w["confidence"] <= 1 for w in words) and 0 < record["confidence"] <= 1
    assert all(w["syllables"][0]["start"] == w["start"] for w in words)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_per_input_file_in_a_folder(tmp_path, fmt):
    model = model_dir_or_skip()
    clips = sorted((ROOT / "demo" / "examples").glob("*.wav"))[:2]
    done = subprocess.run([sys.executable, "-m", "model.predict", "--model", str(model), *map(str, clips), "--format", fmt,
                           "--out", str(tmp_path / "subs")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == sorted(f"{c.stem}.{fmt}" for c in clips)
