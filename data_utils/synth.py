"""Synthetic Korean speech corpus spoken by espeak-ng.

    python -m data_utils.synth --out DIR --num-utterances N --seed S [--jobs J] [--holdout 0.1]

A speaker is one voice setting: (espeak-ng variant, pitch, speed, word gap). The labels are
proxies, documented here and in the README, chosen so that each head has something real in
the audio to learn:
- gender: the variant's own gender (espeak-ng lists M/F for each variant); pitch is drawn
  from a range that overlaps between genders, so the head must use more than pitch;
- age group: speaking rate (espeak `-s`): fast speakers are "20s", medium "40s", slow "60s";
- accent: word gap (espeak `-g`, pauses between words): none "seoul", short "gyeongsang",
  long "jeolla".
With `--holdout F`, a fraction F of voice settings and of sentences is reserved: `heldout.csv`
shares neither text nor voice setting with `train.csv`; with `--holdout-variants` as well, the
held-out voices are whole espeak-ng variants that no training voice uses; `--split-heldout` also
writes its rows alternately to `valid.csv` and `test.csv`.

`--sentences FILE` speaks natural text (one sentence per line, already normalised, e.g.
`data_utils.real_speech`'s `train-sentences.txt`) instead of the generator's: each sentence is
spoken by several voices when N exceeds the file, and the held-out sentences are a fraction F
of the file's.
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from data_utils.audio import SAMPLE_RATE
from data_utils.manifest import write_manifest
from data_utils.sentences import generate_sentences

SPEED_GROUPS = {"20s": (185, 210), "40s": (155, 180), "60s": (125, 150)}  # words per minute
GAP_ACCENTS = {"seoul": (0, 0), "gyeongsang": (6, 9), "jeolla": (15, 20)}  # units of 10 ms
PITCH_RANGE = {"male": (15, 60), "female": (40, 90)}


@dataclass(frozen=True)
class Voice:
    variant: str
    gender: str
    pitch: int
    speed: int
    gap: int
    age: str
    accent: str

    @property
    def speaker(self) -> str:
        return f"{self.variant}-p{self.pitch}-s{self.speed}-g{self.gap}"


@lru_cache(maxsize=1)
def espeak_variants() -> tuple[tuple[str, str], ...]:
    """(variant file name, gender) for every variant this espeak-ng ships."""
    try:
        listing = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise RuntimeError("espeak-ng is not installed (run `make setup`)") from None
    variants = []
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            gender = {"M": "male", "F": "female"}.get(fields[2].split("/")[-1])
            if gender:
                variants.append((fields[4][3:], gender))
    if not variants:
        raise RuntimeError("espeak-ng lists no voice variants")
    return tuple(sorted(variants))


def sample_voice(rng: random.Random, variants) -> Voice:
    # Gender first, then a variant of it: espeak-ng ships far more male variants than female.
    gender = rng.choice(["female", "male"])
    variant = rng.choice([name for name, g in variants if g == gender])
    age = rng.choice(sorted(SPEED_GROUPS))
    accent = rng.choice(sorted(GAP_ACCENTS))
    return Voice(variant, gender, rng.randint(*PITCH_RANGE[gender]), rng.randint(*SPEED_GROUPS[age]),
                 rng.randint(*GAP_ACCENTS[accent]), age, accent)


def speak(text: str, voice: Voice) -> np.ndarray:
    """espeak-ng -> 16 kHz mono float32."""
    command = ["espeak-ng", "-v", f"ko+{voice.variant}", "-p", str(voice.pitch), "-s", str(voice.speed),
               "-g", str(voice.gap), "--stdout", text]
    result = subprocess.run(command, capture_output=True, check=True, timeout=60)
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    # espeak pads generously with silence; keep 100 ms either side of the speech.
    voiced = np.flatnonzero(np.abs(audio) > 1e-3)
    if len(voiced):
        margin = SAMPLE_RATE // 10
        audio = audio[max(0, voiced[0] - margin): voiced[-1] + margin]
    return audio


def _synthesise_one(job: tuple[str, str, Voice]) -> float:
    path, text, voice = job
    audio = speak(text, voice)
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return len(audio) / SAMPLE_RATE


def split_variants(variants, fraction: float, rng: random.Random) -> tuple[tuple, tuple]:
    """(held-out, training) variants: a fraction of each gender's, at least one of each."""
    heldout = []
    for gender in ("female", "male"):
        names = sorted(v for v in variants if v[1] == gender)
        rng.shuffle(names)
        heldout += names[: max(1, round(len(names) * fraction))]
    return tuple(heldout), tuple(v for v in variants if v not in heldout)


def generator_sentences(num_utterances: int, n_heldout: int, seed: int, pseudo_share: float) -> list[str]:
    # Held-out sentences are natural ones (what the evaluation measures); training sentences
    # are drawn separately and never repeat a held-out one.
    heldout = generate_sentences(n_heldout, seed=seed + 7919, pseudo_share=0.0) if n_heldout else []
    taken = set(heldout)
    train = [t for t in generate_sentences(num_utterances + len(taken), seed=seed, pseudo_share=pseudo_share)
             if t not in taken][: num_utterances - n_heldout]
    return heldout + train


def file_sentences(texts: list[str], num_utterances: int, holdout: float, rng: random.Random) -> tuple[list[str], int]:
    """(sentences, how many of them lead as the held-out part): held-out sentences once each,
    training ones cycled in a shuffled order until N utterances."""
    pool = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    if not pool:
        raise ValueError("the sentence file has no sentences")
    rng.shuffle(pool)
    n_heldout = min(round(len(pool) * holdout), num_utterances) if holdout else 0
    heldout, train = pool[:n_heldout], pool[n_heldout:]
    if not train:
        raise ValueError(f"--holdout {holdout} leaves no training sentences out of {len(pool)}")
    return heldout + [train[i % len(train)] for i in range(num_utterances - n_heldout)], n_heldout


def build_corpus(out: Path, num_utterances: int, seed: int, jobs: int = 2, holdout: float = 0.0,
                 pseudo_share: float = 0.2, num_voices: int | None = None, sentences: list[str] | None = None,
                 holdout_variants: bool = False, split_heldout: bool = False) -> dict[str, Path]:
    """Synthesise the corpus; returns the manifest paths written ({"manifest", "train", "heldout"},
    and "valid", "test" with `split_heldout`: the held-out rows alternately)."""
    rng = random.Random(seed)
    variants = espeak_variants()
    num_voices = num_voices or max(8, num_utterances // 4)
    if holdout and holdout_variants:
        heldout_variants, train_variants = split_variants(variants, holdout, rng)
        n_heldout_voices = max(1, round(num_voices * holdout))
        heldout_voices = list(dict.fromkeys(sample_voice(rng, heldout_variants) for _ in range(n_heldout_voices)))
        train_voices = list(dict.fromkeys(sample_voice(rng, train_variants) for _ in range(num_voices - n_heldout_voices)))
    else:
        voices = list(dict.fromkeys(sample_voice(rng, variants) for _ in range(num_voices)))
        n_heldout_voices = max(1, round(len(voices) * holdout)) if holdout else 0
        heldout_voices, train_voices = voices[:n_heldout_voices], voices[n_heldout_voices:]
    if sentences is None:
        n_heldout_utts = round(num_utterances * holdout)
        sentences = generator_sentences(num_utterances, n_heldout_utts, seed, pseudo_share)
    else:
        sentences, n_heldout_utts = file_sentences(sentences, num_utterances, holdout, rng)

    (out / "wavs").mkdir(parents=True, exist_ok=True)
    rows, work = [], []
    for i, text in enumerate(sentences):
        heldout = i < n_heldout_utts
        voice = rng.choice(heldout_voices if heldout else train_voices)
        relative = f"wavs/{i:06d}.wav"
        rows.append({"path": relative, "text": text, "age": voice.age, "gender": voice.gender,
                     "accent": voice.accent, "speaker": voice.speaker, "duration": None,
                     "source": "synth-heldout" if heldout else "synth"})
        work.append((str(out / relative), text, voice))

    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for row, duration in zip(rows, pool.map(_synthesise_one, work, chunksize=8)):
            row["duration"] = f"{duration:.3f}"

    frame = pd.DataFrame(rows)
    written = {"manifest": write_manifest(frame, out / "manifest.csv")}
    if holdout > 0:
        written["train"] = write_manifest(frame[frame["source"] == "synth"], out / "train.csv")
        heldout = frame[frame["source"] != "synth"]
        written["heldout"] = write_manifest(heldout, out / "heldout.csv")
        if split_heldout:
            written["valid"] = write_manifest(heldout.iloc[::2], out / "valid.csv")
            written["test"] = write_manifest(heldout.iloc[1::2], out / "test.csv")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--num-utterances", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--holdout", type=float, default=0.0, help="fraction of voices and sentences held out")
    parser.add_argument("--pseudo-share", type=float, default=0.2, help="share of pseudo-word utterances")
    parser.add_argument("--num-voices", type=int, default=None, help="voice settings to draw (default N/4)")
    parser.add_argument("--sentences", type=Path, default=None,
                        help="speak this file's sentences (one per line) instead of the generator's")
    parser.add_argument("--holdout-variants", action="store_true",
                        help="hold out whole espeak-ng variants, not only voice settings")
    parser.add_argument("--split-heldout", action="store_true",
                        help="also write the held-out rows alternately to valid.csv and test.csv")
    args = parser.parse_args(argv)
    texts = args.sentences.read_text(encoding="utf-8").splitlines() if args.sentences else None
    written = build_corpus(args.out, args.num_utterances, args.seed, args.jobs, args.holdout,
                           args.pseudo_share, args.num_voices, texts, args.holdout_variants, args.split_heldout)
    for name, path in written.items():
        print(f"{name}: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
