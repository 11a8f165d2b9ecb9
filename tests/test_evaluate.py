"""Evaluation: which rows model selection scores, and what the summary line counts."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from data_utils.audio import write_wav
from data_utils.batching import load_dataset
from data_utils.labels import LabelSet
from data_utils.manifest import read_manifest
from distributed.evaluate import run_evaluation
from model.codec import JamoCodec
from model.network import MultiTaskWav2Vec2

ROOT = Path(__file__).resolve().parents[1]


def test_model_selection_scores_a_fixed_sample_of_the_whole_set(model_dir, synth_corpus):
    model = MultiTaskWav2Vec2.from_pretrained(model_dir)
    frame = read_manifest(synth_corpus / "train.csv")
    dataset = load_dataset(synth_corpus / "train.csv", LabelSet({h: model.labels[h] for h in model.config.heads}),
                           JamoCodec())
    _, first = run_evaluation(model, dataset, LabelSet(model.labels), max_utterances=6)
    _, again = run_evaluation(model, dataset, LabelSet(model.labels), max_utterances=6)
    assert first["reference"].tolist() == again["reference"].tolist() and len(first) == 6
    head = [t for t in frame["text"].head(6)]
    assert sorted(first["reference"]) != sorted(head)  # not the manifest's first rows


def test_the_summary_line_counts_utterances_left_out(model_dir, synth_corpus, tmp_path):
    frame = read_manifest(synth_corpus / "heldout.csv")
    long_clip = tmp_path / "long.wav"
    write_wav(long_clip, np.random.default_rng(0).normal(0, 0.1, 16000 * 31).astype(np.float32))
    frame.loc[0, "path"] = str(long_clip)
    frame.to_csv(tmp_path / "m.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "distributed.evaluate", "--model", str(model_dir), "--data",
                           str(tmp_path / "m.csv")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == 1 and summary["n"] == len(frame) - 1
    assert {"cer_nospace", "swer", "wer", "cer"} <= set(summary)
