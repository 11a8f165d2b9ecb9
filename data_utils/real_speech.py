"""The real Korean speech of `../shared/`, prepared for fine-tuning and held-out evaluation.

    python -m data_utils.real_speech --shared ../shared/data/real-korean-speech --out data/real

Each of the five sets goes through `data_utils.prepare` (speaker-disjoint 0.8/0.1/0.1, seed 0)
into OUT/<set>/, and the parts are joined:
- Common Voice's age decades are mapped into emotiontts's groups (teens, 20-40s, 50s+);
- OUT/train.csv: every set's training part, plus KSS's valid and test parts (KSS is one
  speaker, so its parts cannot be speaker-disjoint: it is training data only);
- OUT/valid.csv: up to 100 clips drawn (seed 0) from the emotiontts valid parts, to pick
  checkpoints, among those whose sentence training never hears: emotiontts-main's speakers
  read one script, so a speaker-disjoint clip alone would still reward remembered sentences;
- OUT/test.csv: the emotiontts test parts and all Common Voice clips outside training
  (speakers training never heard);
- OUT/deeply.csv: all of deeply-read-speech, which is evaluated on, never trained on (its
  licence forbids derivatives);
- OUT/train-sentences.txt: the natural sentences the training side may speak through
  synthetic voices: the training transcripts and the Common Voice `validated.tsv` sentences
  (most of whose clips are absent), less every sentence of valid, test and deeply.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from data_utils.corpora.common import read_table
from data_utils.manifest import read_manifest, write_manifest
from data_utils.prepare import prepare
from data_utils.text import TextNormalizer

# set name -> (folder under --shared, prepare's source, loader options relative to the folder)
SETS = {
    "personality": ("emotiontts-personality", "folder", {"speaker_table": "speakers_and_utterances.tsv"}),
    "main": ("emotiontts-main", "folder", {"speaker_table": "speakers_and_utterances.tsv"}),
    "kss": ("kss-sample", "kss", {}),
    "cv": ("commonvoice-ko", "commonvoice", {}),
    "deeply": ("deeply-read-speech", "deeply", {}),
}
VALID_CLIPS = 100
# emotiontts's age groups are coarser than Common Voice's decades: one age head needs one set.
AGE_GROUPS = {"teens": "teens", "20s": "20-40s", "30s": "20-40s", "40s": "20-40s", "50s": "50s+", "60s": "50s+",
              "70s": "50s+", "80s": "50s+", "90s": "50s+"}


def prepare_sets(shared: Path, out: Path) -> dict[str, dict[str, pd.DataFrame]]:
    parts = {}
    for name, (folder, source, options) in SETS.items():
        root = shared / folder
        prepare(source, root, out / name, **{k: root / v for k, v in options.items()})
        parts[name] = {part: read_manifest(out / name / f"{part}.csv") for part in ("train", "valid", "test")}
    return parts


def sentence_key(text: str) -> str:
    """Two transcripts are one sentence when they differ only in spacing."""
    return text.replace(" ", "")


def join_parts(parts: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    emotiontts = ("personality", "main")
    for part in parts["cv"].values():
        part["age"] = part["age"].map(lambda age: AGE_GROUPS.get(age, age))
    train = pd.concat([parts[s]["train"] for s in ("personality", "main", "kss", "cv")]
                      + [parts["kss"]["valid"], parts["kss"]["test"]], ignore_index=True)
    valid = pd.concat([parts[s]["valid"] for s in emotiontts], ignore_index=True)
    valid = valid[~valid["text"].map(sentence_key).isin(set(train["text"].map(sentence_key)))]
    return {
        "train": train,
        "valid": valid.sample(n=min(VALID_CLIPS, len(valid)), random_state=0).sort_index(),
        "test": pd.concat([parts[s]["test"] for s in emotiontts] + [parts["cv"]["valid"], parts["cv"]["test"]],
                          ignore_index=True),
        "deeply": pd.concat(list(parts["deeply"].values()), ignore_index=True),
    }


def training_sentences(shared: Path, joined: dict[str, pd.DataFrame]) -> list[str]:
    """Training transcripts + Common Voice's sentences, less every held-out sentence (normalised)."""
    normalizer = TextNormalizer()
    validated = read_table(shared / SETS["cv"][0] / "validated.tsv", delimiter="\t")
    candidates = list(joined["train"]["text"]) + [normalizer(t) for t in validated["sentence"]]
    held_out = {sentence_key(t) for name in ("valid", "test", "deeply") for t in joined[name]["text"]}
    return [t for t in dict.fromkeys(c for c in candidates if c) if sentence_key(t) not in held_out]


def build(shared: Path, out: Path) -> dict[str, Path]:
    shared, out = Path(shared).resolve(), Path(out)
    joined = join_parts(prepare_sets(shared, out))
    written = {name: write_manifest(frame, out / f"{name}.csv") for name, frame in joined.items()}
    sentences = out / "train-sentences.txt"
    sentences.write_text("\n".join(training_sentences(shared, joined)) + "\n", encoding="utf-8")
    written["sentences"] = sentences
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path("../shared/data/real-korean-speech"))
    parser.add_argument("--out", type=Path, default=Path("data/real"))
    args = parser.parse_args(argv)
    for name, path in build(args.shared, args.out).items():
        rows = sum(1 for _ in open(path, encoding="utf-8")) - (name != "sentences")
        print(f"{name}: {path} ({rows} {'sentences' if name == 'sentences' else 'clips'})", file=sys.stderr)


if __name__ == "__main__":
    main()
