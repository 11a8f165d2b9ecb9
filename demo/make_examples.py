"""Regenerate the example clips shown in the app: `demo/examples/*.wav` + `references.csv`.

    python -m demo.make_examples [--exclude TRAIN_MANIFEST.csv]

Natural sentences and voices come from the project's synthesiser with seed 2026, far from the
training seed, so the examples are neither training sentences nor training voice settings;
`--exclude` additionally drops any sentence that appears in a training manifest.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import pandas as pd

from data_utils.audio import write_wav
from data_utils.sentences import generate_sentences, syllable_count
from data_utils.synth import Voice, espeak_variants, sample_voice, speak

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
SEED = 2026
# One clip per (gender, age group, accent) target: the examples show every class of each head.
TARGETS = (("female", "20s", "seoul"), ("male", "40s", "gyeongsang"), ("female", "60s", "jeolla"), ("male", "20s", "jeolla"))


def pick_sentences(count: int, excluded: set[str]) -> list[str]:
    # Short sentences (8-16 syllables) keep every clip a few seconds long and the folder small.
    candidates = generate_sentences(200, seed=SEED, pseudo_share=0.0, min_syllables=8, max_syllables=16)
    return [s for s in candidates if s not in excluded][:count]


def pick_voices(rng: random.Random) -> list[Voice]:
    variants = espeak_variants()
    voices: list[Voice] = []
    while len(voices) < len(TARGETS):
        voice = sample_voice(rng, variants)
        if (voice.gender, voice.age, voice.accent) == TARGETS[len(voices)]:
            voices.append(voice)
    return voices


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exclude", action="append", default=[], help="manifest whose sentences must not be used")
    parser.add_argument("--out", type=Path, default=EXAMPLES_DIR)
    args = parser.parse_args(argv)

    excluded = {text for manifest in args.exclude for text in pd.read_csv(manifest, dtype=str)["text"].fillna("")}
    sentences = pick_sentences(len(TARGETS), excluded)
    voices = pick_voices(random.Random(SEED))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (text, voice) in enumerate(zip(sentences, voices), start=1):
        name = f"example{index}_{voice.gender}_{voice.age}_{voice.accent}.wav"
        write_wav(args.out / name, speak(text, voice))
        rows.append({"path": name, "text": text, "gender": voice.gender, "age": voice.age, "accent": voice.accent})
    with open(args.out / "references.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "text", "gender", "age", "accent"])
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(f"{row['path']}: {row['text']} ({syllable_count(row['text'])} syllables)")


if __name__ == "__main__":
    main()
