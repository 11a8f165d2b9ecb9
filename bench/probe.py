"""The distillation gate of issue 19: how readable an encoder's frames are to a tiny CTC probe.

    python -m bench.probe --student runs/distill/checkpoint/student [--steps 800] [--threads 2]

The same probe, data and number of updates for each encoder, run side by side: whisper-base's encoder as
whisper runs it (the teacher, positions kept), optionally the undistilled transplant
(`--init DIR`), and the student. The probe (linear 512->256, GELU, conv k=5, GELU, linear to the
jamo vocabulary; Adam 1e-3, time and feature masking) trains on frozen features of 42 min of
real speech (emotiontts-personality 463 clips, kss-sample without digits, commonvoice-ko 29) and
reads every third clip of `deeply-read-speech` (2 speakers the probe never hears, 100 clips):
greedy CER with spaces removed, and JER. The gate: student CER within 1.25x of the teacher's.
Writes bench/results/probe.json.

    python -m bench.probe --model demo/whisper-model --train data/real/train.csv \
                          --eval data/real/test.csv data/real/deeply.csv [--steps 1200]

asks the same of a fine-tuned model of this toolkit (`--model`, its encoder's last hidden state,
beside the teacher's) on other sets: how much a fresh probe can still read from its frames, on
voices like the training ones and on others (fine-tuning on a few hours of speech can cost what
the pretrained encoder knew: `model.interpolate`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.paths import RESULTS_DIR
from bench.report import write_json
from data_utils.audio import load_audio
from data_utils.batching import normalize_waveform
from data_utils.corpora import LOADERS
from data_utils.text import TextNormalizer
from model.codec import JamoCodec, jamo_to_text
from model.decoding import greedy_ids
from model.metrics import error_rates
from model.whisper import WhisperAudioEncoder, load_whisper_encoder

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-korean-speech"
GATE = 1.25


def probe_sets(root: Path = REAL) -> tuple[list[tuple[np.ndarray, str]], list[tuple[np.ndarray, str]]]:
    """(train, eval) as (16 kHz audio, normalised transcript) pairs."""
    normalize = TextNormalizer()
    personality = root / "emotiontts-personality"
    frames = {
        "personality": LOADERS["folder"](personality, speaker_table=personality / "speakers_and_utterances.tsv").rows,
        "kss": LOADERS["kss"](root / "kss-sample").rows,
        "cv": LOADERS["commonvoice"](root / "commonvoice-ko").rows,
        "deeply": LOADERS["deeply"](root / "deeply-read-speech").rows,
    }
    frames["kss"] = frames["kss"][~frames["kss"]["text"].str.contains(r"\d")]

    def pairs(frame):
        out = []
        for path, text in zip(frame["path"], frame["text"]):
            clean = normalize(text)
            if clean and Path(path).is_file():  # Common Voice's table names clips the sample lacks
                out.append((load_audio(path), clean))
        return out

    deeply = frames["deeply"].sort_values("path").reset_index(drop=True).iloc[::3]
    train = pairs(frames["personality"]) + pairs(frames["kss"]) + pairs(frames["cv"])
    return train, pairs(deeply)


class Probe(nn.Module):
    def __init__(self, width: int, vocab: int):
        super().__init__()
        self.inp = nn.Linear(width, 256)
        self.conv = nn.Conv1d(256, 256, 5, padding=2)
        self.out = nn.Linear(256, vocab)

    def forward(self, x):
        x = nn.functional.gelu(self.inp(x))
        x = nn.functional.gelu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        return self.out(x)


@torch.no_grad()
def features(encode, clips) -> list[torch.Tensor]:
    return [encode(audio) for audio, _ in clips]


def manifest_clips(manifest) -> list[tuple[np.ndarray, str]]:
    from data_utils.manifest import read_manifest

    normalize = TextNormalizer()
    frame = read_manifest(manifest)
    return [(load_audio(p), normalize(t)) for p, t in zip(frame["path"], frame["text"]) if normalize(t)]


def teacher_encoder():
    teacher = WhisperAudioEncoder(load_whisper_encoder()).eval()
    return lambda audio: teacher(torch.from_numpy(audio)[None]).hidden_states[-1][0]


def wav2vec2_encoder(directory):
    from transformers import Wav2Vec2Model

    model = Wav2Vec2Model.from_pretrained(str(directory), dtype=torch.float32).eval()
    return lambda audio: model(torch.from_numpy(normalize_waveform(audio))[None]).last_hidden_state[0]


def toolkit_encoder(directory):
    from model.network import MultiTaskWav2Vec2

    model = MultiTaskWav2Vec2.from_pretrained(directory).float().eval()

    def encode(audio):  # as the model hears it in training and prediction: normalised, then its own scale
        values = torch.from_numpy(normalize_waveform(audio))[None]
        return model.encode(values, torch.ones_like(values, dtype=torch.long), all_layers=False)[1][0]
    return encode


def train_probe(train_feats, train_texts, steps: int, codec: JamoCodec, seed: int = 0) -> tuple[Probe, float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    probe = Probe(train_feats[0].shape[-1], len(codec))
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-3)
    targets = [torch.tensor(codec.encode(t)) for t in train_texts]
    ctc = nn.CTCLoss(blank=codec.pad_id, zero_infinity=True)
    started = time.time()
    for _ in range(steps):
        batch = rng.choice(len(train_feats), size=16, replace=False)
        x = nn.utils.rnn.pad_sequence([train_feats[i] for i in batch], batch_first=True).clone()
        lengths = torch.tensor([len(train_feats[i]) for i in batch])
        for row, n in enumerate(lengths.tolist()):  # SpecAugment-like masks on the frozen features
            for _ in range(2):
                start = int(rng.integers(0, max(1, n - 10)))
                x[row, start:start + int(rng.integers(1, 10))] = 0
            channels = int(rng.integers(0, x.shape[-1] - 64))
            x[row, :, channels:channels + int(rng.integers(1, 64))] = 0
        log_probs = probe(x).log_softmax(-1).transpose(0, 1)
        labels = [targets[i] for i in batch]
        loss = ctc(log_probs, torch.cat(labels), lengths, torch.tensor([len(t) for t in labels]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return probe.eval(), (time.time() - started) / 60


@torch.no_grad()
def read(probe: Probe, feats, codec: JamoCodec) -> list[str]:
    out = []
    for f in feats:
        ids = greedy_ids(probe(f[None]), torch.tensor([len(f)]), codec.pad_id)[0]
        out.append(jamo_to_text(codec.decode_ids(ids)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", type=Path, action="append", default=[], help="Wav2Vec2 directories to probe")
    parser.add_argument("--init", type=Path, default=None, help="the undistilled transplant, for reference")
    parser.add_argument("--model", type=Path, action="append", default=[], help="fine-tuned models of this toolkit")
    parser.add_argument("--train", help="a manifest to train the probe on, instead of the gate's 42 min")
    parser.add_argument("--eval", nargs="+", default=[], help="manifests to read, instead of the gate's deeply clips")
    # A fixed number of updates rather than the 5 CPU-minutes, so that a busy machine
    # changes how long it takes, not what it measures: an update took 0.67 s on the 2 cores with a
    # training job beside it, so 800 are about 9 minutes there.
    parser.add_argument("--steps", type=int, default=800, help="probe updates per encoder")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not REAL.is_dir():
        print(f"needs the real speech in {REAL}")
        return 2
    codec = JamoCodec()
    gate = not (args.train or args.eval)
    train, heldout = ([], []) if args.train and args.eval else probe_sets()  # the gate's sets fill what is not given
    if args.train:
        train = manifest_clips(args.train)
    eval_sets = {m: manifest_clips(m) for m in args.eval} or {"deeply-read-speech (every third clip)": heldout}
    print(f"probe train {len(train)} clips ({sum(len(a) for a, _ in train) / 16000 / 60:.1f} min), "
          + ", ".join(f"eval {len(clips)} clips of {name}" for name, clips in eval_sets.items()))
    encoders = {"teacher (whisper-base)": teacher_encoder()}
    if args.init:
        encoders[f"transplant ({args.init})"] = wav2vec2_encoder(args.init)
    for directory in args.student:
        encoders[f"student ({directory})"] = wav2vec2_encoder(directory)
    for directory in args.model:
        encoders[f"fine-tuned ({directory})"] = toolkit_encoder(directory)
    results = {}
    for name, encode in encoders.items():
        probe, minutes = train_probe(features(encode, train), [t for _, t in train], args.steps, codec)
        for set_name, clips in eval_sets.items():
            references = [t for _, t in clips]
            hypotheses = read(probe, features(encode, clips), codec)
            rates = error_rates(references, hypotheses)
            key = name if len(eval_sets) == 1 else f"{name} on {set_name}"
            results[key] = {"cer_nospace": rates["cer_nospace"], "jer": rates["jer"], "probe_minutes": round(minutes, 2),
                            "examples": [{"reference": r, "hypothesis": h} for r, h in zip(references[:5], hypotheses[:5])]}
            print(f"{key:60s} CER(no spaces) {rates['cer_nospace']:.3f}  JER {rates['jer']:.3f}  ({minutes:.1f} min)",
                  flush=True)
    if not gate:  # not the gate's sets: no gate to pass
        write_json(RESULTS_DIR / "probe-sets.json", {"steps": args.steps, "train": args.train, "eval": args.eval,
                                                     "results": results})
        return 0
    teacher = results["teacher (whisper-base)"]["cer_nospace"]
    for name, result in results.items():
        result["ratio_to_teacher"] = result["cer_nospace"] / teacher
        if name.startswith("student"):
            verdict = "passes" if result["ratio_to_teacher"] <= GATE else "misses"
            print(f"{name}: {result['ratio_to_teacher']:.2f}x the teacher's CER: {verdict} the {GATE}x gate")
    write_json(RESULTS_DIR / "probe.json", {"steps": args.steps, "train_clips": len(train), "eval_clips": len(heldout),
                              "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
