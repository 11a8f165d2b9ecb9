"""Checkpoints that are not this toolkit's: plain Hugging Face Wav2Vec2 directories, in the
layouts Korean users download from the Hub (syllable vocabularies, `[PAD]`/`[UNK]` or
`<pad>`/`<unk>`, self-supervised checkpoints without a CTC head)."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from transformers import Wav2Vec2CTCTokenizer

from data_utils.audio import write_wav
from model.codec import JamoCodec
from model.config import MultiTaskConfig, encoder_config
from model.network import MultiTaskWav2Vec2
from model.predict import Predictor

ROOT = Path(__file__).resolve().parents[1]
SYLLABLES = list("가나다라마바사아자차카타파하는이에를고")


def hub_ctc_dir(directory: Path, pad: str = "[PAD]", unk: str = "[UNK]", seed: int = 0) -> Path:
    """A tiny syllable-vocabulary Wav2Vec2ForCTC saved as HF's fine-tuning recipe saves one."""
    vocab = {pad: 0, unk: 1, "|": 2, **{s: i + 3 for i, s in enumerate(SYLLABLES)}}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(directory / "vocab.json"), pad_token=pad, unk_token=unk, word_delimiter_token="|",
                                     bos_token=None, eos_token=None)
    tokenizer.save_pretrained(str(directory))
    torch.manual_seed(seed)
    model = transformers.Wav2Vec2ForCTC(encoder_config("tiny", len(vocab), pad_token_id=0))
    with torch.no_grad():  # make the model say something: favour one syllable over the blank
        model.lm_head.bias[vocab["가"]] = 5.0
    model.save_pretrained(str(directory))
    return directory


def clip(path: Path, seconds: float = 1.5) -> Path:
    write_wav(path, (np.random.default_rng(1).normal(0, 0.1, int(16000 * seconds))).astype(np.float32))
    return path


@pytest.mark.parametrize("pad,unk", [("[PAD]", "[UNK]"), ("<pad>", "<unk>")])
def test_a_hub_syllable_ctc_model_transcribes_with_its_own_vocabulary(tmp_path, pad, unk):
    directory = hub_ctc_dir(tmp_path / "hub", pad, unk)
    predictor = Predictor.from_pretrained(directory)
    assert predictor.heads == []
    (prediction,) = predictor.predict_files([clip(tmp_path / "a.wav")])
    assert prediction.error == "" and prediction.text and set(prediction.text.replace(" ", "")) <= set(SYLLABLES)
    # The same logits through transformers' own tokenizer give the same text.
    hf = transformers.Wav2Vec2ForCTC.from_pretrained(str(directory)).eval()
    tokenizer = Wav2Vec2CTCTokenizer.from_pretrained(str(directory))
    audio = torch.from_numpy(np.random.default_rng(1).normal(0, 0.1, 24000).astype(np.float32))
    audio = (audio - audio.mean()) / torch.sqrt(audio.var() + 1e-7)
    with torch.no_grad():
        ids = hf(audio[None]).logits.argmax(-1)[0]
    assert tokenizer.decode(ids) == prediction.text


def test_the_cli_runs_a_hub_directory(tmp_path):
    directory = hub_ctc_dir(tmp_path / "hub")
    clips = tmp_path / "clips"
    clips.mkdir()
    clip(clips / "one.wav")
    clip(clips / "two.wav", 2.0)
    done = subprocess.run([sys.executable, "-m", "model.predict", "--model", str(directory), str(clips)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and "가" in lines[1]


def test_a_checkpoint_that_cannot_transcribe_is_refused_in_one_line(tmp_path):
    directory = tmp_path / "xlsr"
    transformers.Wav2Vec2ForPreTraining(encoder_config("tiny", 10)).save_pretrained(str(directory))
    with pytest.raises(ValueError, match=r"cannot transcribe: Wav2Vec2ForPreTraining .*--pretrained"):
        Predictor.from_pretrained(directory)
    done = subprocess.run([sys.executable, "-m", "model.predict", "--model", str(directory), str(clip(tmp_path / "a.wav"))],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "cannot transcribe" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr


def test_fine_tuning_from_a_bracketed_vocabulary_starts_a_fresh_jamo_head(tmp_path):
    directory = hub_ctc_dir(tmp_path / "hub")
    labels = {"gender": ["female", "male"]}
    model, report = MultiTaskWav2Vec2.from_encoder(directory, MultiTaskConfig(heads=["gender"]), labels, JamoCodec())
    assert report["ctc_head"] == "fresh" and model.asr.lm_head.out_features == len(JamoCodec())


def test_the_app_serves_a_hub_directory_without_heads(tmp_path):
    from gradio_client import Client, handle_file

    from tests.app_server import running_app

    directory = hub_ctc_dir(tmp_path / "hub")
    with running_app(directory, tmp_path) as (url, _):
        client = Client(url, verbose=False)
        result = client.predict(handle_file(str(clip(tmp_path / "a.wav"))), api_name="/transcribe")
        text, _jamo, duration, _elapsed = result  # no head outputs at all
        assert "가" in text and duration == pytest.approx(1.5, abs=0.01)
        config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
        assert any(c.get("props", {}).get("elem_id") == "asr-only" for c in config["components"])
