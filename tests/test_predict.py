"""Batch prediction and its CLI."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.predict import Predictor
from model.prediction import CSV_COLUMNS
from model.segments import batches_by_seconds, utterance_cuts

ROOT = Path(__file__).resolve().parents[1]


def test_batches_group_by_length():
    lengths = [16000 * s for s in (5, 1, 9, 2, 1, 5)]
    batches = batches_by_seconds(lengths, 10.0)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(max(lengths[i] for i in b) * len(b) <= 160000 for b in batches)


def test_long_recordings_are_cut_into_utterances_at_pauses():
    rng = np.random.default_rng(0)
    speech = lambda s: (0.3 * rng.standard_normal(int(s * 16000))).astype(np.float32)  # noqa: E731
    silence = lambda s: np.zeros(int(s * 16000), dtype=np.float32)  # noqa: E731
    # four utterances 0.6 s apart, then one of 14 s with a short pause inside, then 25 s unbroken
    parts = [speech(6), silence(0.6), speech(2), silence(0.6), speech(6), silence(0.6), speech(3), silence(0.6),
             speech(8), silence(0.2), speech(6), silence(0.6), speech(25)]
    audio = np.concatenate(parts)
    cuts = utterance_cuts(audio, max_seconds=10)
    assert all(0 < end - start <= 160000 for start, end in cuts)
    assert all(a[1] <= b[0] for a, b in zip(cuts, cuts[1:]))
    voiced = np.abs(audio) > 0
    covered = np.zeros(len(audio), bool)
    for start, end in cuts:
        covered[start:end] = True
    assert covered[voiced].all()  # no speech is lost
    # one cut per utterance, the long one at its pause, the unbroken stretch hard-cut in three
    assert len(cuts) == 4 + 2 + 3
    assert all(np.abs(audio[start : start + 50]).max() < 1e-6 for start, _ in cuts[1:6])
    assert utterance_cuts(silence(30), max_seconds=10) == []


def test_results_keep_input_order_and_long_audio_is_joined(model_dir):
    predictor = Predictor.from_pretrained(model_dir, window_seconds=4.0)
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16000 * 3, 8000, 16000 * 9)]
    together = predictor.predict_arrays(arrays)
    for audio, prediction in zip(arrays, together):
        alone = predictor.predict_arrays([audio])[0]
        assert alone.jamo == prediction.jamo
        assert alone.heads["gender"].probability == pytest.approx(prediction.heads["gender"].probability, abs=1e-5)
        assert prediction.duration == pytest.approx(len(audio) / 16000)
        assert sum(prediction.heads["age"].distribution.values()) == pytest.approx(1.0)


def test_cli_writes_a_row_per_file_with_errors(tmp_path, model_dir, synth_corpus):
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    clips = sorted((synth_corpus / "wavs").glob("*.wav"))[:3]
    for clip in clips:
        shutil.copy(clip, folder / "sub" / clip.name)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.mp3").write_bytes(b"ID3" + bytes(range(256)) * 4)
    (folder / "notes.txt").write_text("not audio, and not an audio name: ignored")
    out = tmp_path / "predictions.csv"
    result = subprocess.run([sys.executable, "-m", "model.predict", "--model", str(model_dir), str(folder), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == 5
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["empty.wav"]["error"] == "empty file (0 bytes)"
    assert by_name["corrupt.mp3"]["error"].startswith("cannot decode")
    for clip in clips:
        row = by_name[clip.name]
        assert row["error"] == "" and float(row["duration"]) > 0.3
        assert row["gender"] in ("female", "male") and 0.5 <= float(row["gender_prob"]) <= 1
        assert row["accent"] == "" and row["accent_prob"] == ""  # a head this model lacks
    assert "5 files, 2 failed" in result.stderr


def test_int8_and_bf16_precisions_stay_close_to_fp32(synth_corpus):
    """The faster precisions the CLI offers (`--precision`) transcribe nearly as fp32 does, with
    the bundled model on speech it was trained for; int8 quantises a copy, not the caller's model."""
    import jiwer
    import torch

    from data_utils.audio import load_audio
    from model.network import MultiTaskWav2Vec2

    model = MultiTaskWav2Vec2.from_pretrained(ROOT / "demo" / "model")
    arrays = [load_audio(p) for p in sorted((synth_corpus / "wavs").glob("*.wav"))[:4]]
    exact = Predictor(model).predict_arrays(arrays)
    assert all(p.text for p in exact)
    for precision in ("int8", "bf16"):
        predictor = Predictor(model, precision=precision)
        close = predictor.predict_arrays(arrays)
        assert jiwer.cer([p.text for p in exact], [p.text for p in close]) < 0.15, precision
        for a, b in zip(exact, close):
            assert a.heads["gender"].probability == pytest.approx(b.heads["gender"].probability, abs=0.1)
        quantised = [m for m in predictor.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
        assert bool(quantised) == (precision == "int8")
    assert not any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in model.modules())
    with pytest.raises(ValueError, match="precision"):
        Predictor(model, precision="fp8")


@pytest.mark.parametrize("native", [False, True])
def test_bf16_warns_where_the_hardware_emulates_it(monkeypatch, native):
    """`--precision bf16` and training's `--amp bf16` run several times slower than float32 where bf16
    is emulated (a CPU without AVX512-BF16 or AMX): they say so there, and only there."""
    import warnings

    from distributed.config import autocast
    from model import precision
    from model.network import MultiTaskWav2Vec2

    monkeypatch.setattr(precision, "native_bf16", lambda device_type: native)
    predictor = Predictor(MultiTaskWav2Vec2.from_pretrained(ROOT / "demo" / "model"), precision="bf16")
    for context in (predictor.autocast, lambda: autocast("bf16", "cpu")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with context():
                pass
        assert sum("bf16 is emulated" in str(w.message) for w in caught) == (0 if native else 1)


def test_parallel_batches_give_the_same_predictions_in_the_same_order(synth_corpus):
    """Batches on several threads (the CLI's default on CPUs) come back in input order, each
    with the transcript and head probabilities of the one-at-a-time run."""
    from data_utils.audio import load_audio
    from model.network import MultiTaskWav2Vec2

    model = MultiTaskWav2Vec2.from_pretrained(ROOT / "demo" / "model")
    arrays = [load_audio(p) for p in sorted((synth_corpus / "wavs").glob("*.wav"))[:9]]
    one_at_a_time = Predictor(model, batch_seconds=4.0).predict_arrays(arrays)
    parallel = Predictor(model, batch_seconds=4.0, parallel_batches=3).predict_arrays(arrays)
    assert len({p.text for p in one_at_a_time}) > 1  # distinct transcripts, so order shows
    for a, b in zip(one_at_a_time, parallel):
        assert (a.text, a.duration) == (b.text, b.duration)
        for head in a.heads:
            assert a.heads[head].probability == pytest.approx(b.heads[head].probability, abs=1e-4)
    with pytest.raises(ValueError, match="parallel_batches"):
        Predictor(model, parallel_batches=0)


def group_norm_model(seed=0):
    import torch

    from model.codec import JamoCodec
    from model.config import MultiTaskConfig, encoder_config
    from model.network import MultiTaskWav2Vec2

    torch.manual_seed(seed)
    config = encoder_config("tiny", len(JamoCodec()), feat_extract_norm="group", do_stable_layer_norm=False)
    return MultiTaskWav2Vec2(config, MultiTaskConfig(heads=["gender"]), {"gender": ["female", "male"]}).eval()


def test_a_group_norm_model_gives_a_clip_the_same_outputs_alone_and_in_company():
    from data_utils.batching import DynamicBatchSampler

    predictor = Predictor(group_norm_model(), batch_seconds=60.0)
    rng = np.random.default_rng(0)
    clips = [rng.normal(0, 0.1, n).astype(np.float32) for n in (9000, 16000, 23000, 16000)]
    together = predictor.predict_arrays(clips)
    for clip, batched in zip(clips, together):
        (alone,) = predictor.predict_arrays([clip])
        assert batched.heads["gender"].probability == pytest.approx(alone.heads["gender"].probability, abs=1e-6)
        assert batched.jamo == alone.jamo
    # Evaluation and training batch the same way: equal lengths only.
    sampler = DynamicBatchSampler([9000, 16000, 23000, 16000], 60.0, shuffle=False, equal_lengths=True)
    assert sorted(map(sorted, sampler.all_batches())) == [[0], [1, 3], [2]]


def test_a_model_with_its_own_heads_keeps_them_in_the_csv(tmp_path):
    import torch

    from model.codec import JamoCodec
    from model.config import MultiTaskConfig, encoder_config
    from model.network import MultiTaskWav2Vec2
    from model.predict import write_predictions

    torch.manual_seed(0)
    labels = {"gender": ["female", "male"], "emotion": ["calm", "angry", "sad"]}
    model = MultiTaskWav2Vec2(encoder_config("tiny", len(JamoCodec())), MultiTaskConfig(heads=["gender", "emotion"]), labels)
    predictions = Predictor(model).predict_arrays([np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)])
    write_predictions(predictions, tmp_path / "p.csv")
    with open(tmp_path / "p.csv", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["emotion"] in labels["emotion"] and float(row["emotion_prob"]) > 0 and row["age"] == ""
