"""Live transcription (model.live): chunks in, a transcript that grows and commits at pauses."""

import jiwer
import numpy as np
import pandas as pd
import pytest
import soxr

from data_utils.audio import SAMPLE_RATE, load_audio
from model.live import LiveTranscriber, as_float32
from model.predict import Predictor
from tests.app_server import model_dir_or_skip


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_pretrained(model_dir_or_skip())


def clips(synth_corpus, count):
    frame = pd.read_csv(synth_corpus / "manifest.csv").head(count)
    return [load_audio(synth_corpus / p) for p in frame["path"]]


def references(synth_corpus, count):
    return "".join(pd.read_csv(synth_corpus / "manifest.csv").head(count)["text"]).replace(" ", "")


def feed_all(live, audio, rate, chunk_seconds=0.5):
    """Feed int16 audio at `rate` in chunks, as a browser's recorder sends it; the longest
    pending audio seen (samples at 16 kHz)."""
    pcm = (np.clip(soxr.resample(audio, SAMPLE_RATE, rate), -1, 1) * 32767).astype(np.int16)
    step, longest = int(chunk_seconds * rate), 0
    for start in range(0, len(pcm), step):
        live.feed(pcm[start:start + step], rate)
        longest = max(longest, len(live.pending))
    return live.finish(), longest


def test_each_utterance_is_committed_at_its_pause_with_the_words_of_the_clip(predictor, synth_corpus):
    utterances = clips(synth_corpus, 4)
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    recording = np.concatenate([part for clip in utterances for part in (clip, pause)])
    live = LiveTranscriber(predictor, pause_seconds=0.6, max_window_seconds=12.0)
    transcript, longest = feed_all(live, recording, SAMPLE_RATE)
    alone = "".join(p.text for p in predictor.predict_arrays(utterances)).replace(" ", "")
    assert len(transcript.committed) == 4 and transcript.tentative == ""
    truth = references(synth_corpus, 4)
    # as well read live as clip by clip (the model's own errors aside)
    assert jiwer.cer(truth, transcript.text.replace(" ", "")) <= jiwer.cer(truth, alone) + 0.03
    assert longest <= max(len(c) for c in utterances) + SAMPLE_RATE  # memory: one utterance and a pause, never more
    ends = np.cumsum([len(c) + len(pause) for c in utterances]) / SAMPLE_RATE
    for (_, end), clip_end in zip(transcript.spans, ends):
        assert clip_end - 1.0 < end < clip_end  # each piece ends in the pause after its clip


def test_a_recorder_at_48_khz_is_resampled_as_one_stream(predictor, synth_corpus):
    audio = clips(synth_corpus, 1)[0]
    high = soxr.resample(audio, SAMPLE_RATE, 48000).astype(np.float32)
    live = LiveTranscriber(predictor, max_window_seconds=60.0, pause_seconds=30.0, decode_every_seconds=60.0)
    for start in range(0, len(high), 24000):
        live.feed(high[start:start + 24000], 48000)
    live.pending = np.concatenate([live.pending, live._resampler[1].resample_chunk(np.zeros(0, np.float32), last=True)])
    whole = soxr.resample(high, 48000, SAMPLE_RATE)
    assert abs(len(live.pending) - len(whole)) <= 2
    n = min(len(whole), len(live.pending))
    assert np.abs(live.pending[:n] - whole[:n]).max() < 1e-3  # chunk edges leave no clicks


def test_speech_without_long_pauses_is_cut_in_a_gap_within_the_window(predictor, synth_corpus):
    utterances = clips(synth_corpus, 6)
    gap = np.zeros(SAMPLE_RATE // 5, dtype=np.float32)  # 0.2 s: shorter than the pause that commits
    recording = np.concatenate([part for clip in utterances for part in (clip, gap)])
    live = LiveTranscriber(predictor, pause_seconds=0.6, max_window_seconds=6.0)
    transcript, longest = feed_all(live, recording, SAMPLE_RATE)
    assert longest <= 6.5 * SAMPLE_RATE and len(transcript.committed) >= 2
    quiet = 0.01 * np.abs(recording).max()
    for _, end in transcript.spans[:-1]:
        cut = int(end * SAMPLE_RATE)
        assert np.abs(recording[cut - 320: cut + 320]).max() < quiet  # cut in a pause (20 ms either side), not in a word


def test_silence_and_room_noise_commit_nothing_and_keep_little(predictor):
    live = LiveTranscriber(predictor)
    noise = np.random.default_rng(0).normal(0, 10 ** (-60 / 20), 30 * SAMPLE_RATE).astype(np.float32)
    transcript, longest = feed_all(live, noise, SAMPLE_RATE)
    assert transcript.text == "" and longest <= SAMPLE_RATE


def test_recorder_formats_become_mono_float():
    stereo = np.array([[32767, -32768], [0, 16384]], dtype=np.int16)
    assert np.allclose(as_float32(stereo), [-0.5 / 32768, 0.25], atol=1e-4)
    assert as_float32(np.array([0.5, -0.5])).dtype == np.float32
