"""Shared fixtures: a small synthetic corpus (espeak-ng) and the real-speech folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two cores: keep torch from oversubscribing them when tests run beside other work.
os.environ.setdefault("OMP_NUM_THREADS", "2")

REAL_SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-korean-speech"


@pytest.fixture(scope="session")
def real_speech() -> Path:
    if not REAL_SPEECH.is_dir():
        pytest.skip(f"real Korean speech samples not found at {REAL_SPEECH}")
    return REAL_SPEECH


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory) -> Path:
    """24 synthetic utterances with a held-out part: DIR/{manifest,train,heldout}.csv + wavs/."""
    from data_utils.synth import build_corpus

    out = tmp_path_factory.mktemp("synth")
    build_corpus(out, num_utterances=24, seed=3, jobs=2, holdout=0.25)
    return out


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A tiny untrained model with gender and age heads: for tests of the code around a model."""
    import torch

    from model.codec import JamoCodec
    from model.config import MultiTaskConfig, encoder_config
    from model.network import MultiTaskWav2Vec2

    torch.manual_seed(0)
    labels = {"gender": ["female", "male"], "age": ["20s", "60s"]}
    model = MultiTaskWav2Vec2(encoder_config("tiny", len(JamoCodec())), MultiTaskConfig(heads=["gender", "age"]), labels)
    directory = tmp_path_factory.mktemp("model")
    model.save_pretrained(directory)
    return directory
