"""One training manifest from several: real speech (repeated) plus samples of synthetic corpora.

    python -m data_utils.mix --out data/real/train-mix.csv --labelled data/real/train.csv --repeat 2 \\
        --transcripts-only data/synth-natural/train.csv:2000 data/synth/train.csv:1000 [--seed 0]

`--labelled` manifests keep their head labels and are listed `--repeat` times (real speech is
scarce: repeating it keeps its share of the batches). Each `--transcripts-only` manifest
gives N clips drawn at random (`:N`; all without it) whose head labels are blanked: synthetic
voices teach the transcription, and the heads learn from real voices only (espeak's age and
accent are proxies). Paths are written absolute.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from data_utils.manifest import HEADS, read_manifest, write_manifest


def parse_sample(spec: str) -> tuple[Path, int | None]:
    """'train.csv:2000' -> (train.csv, 2000); 'train.csv' -> (train.csv, None)."""
    path, separator, count = spec.rpartition(":")
    return (Path(path), int(count)) if separator and count.isdigit() else (Path(spec), None)


def mix(labelled: list[Path], transcripts_only: list[tuple[Path, int | None]], repeat: int = 1,
        seed: int = 0) -> pd.DataFrame:
    frames = [read_manifest(path) for path in labelled] * repeat
    for path, count in transcripts_only:
        frame = read_manifest(path)
        if count is not None:
            if count > len(frame):
                raise ValueError(f"{path}: {count} clips asked for, it has {len(frame)}")
            frame = frame.sample(n=count, random_state=seed)
        frame = frame.copy()
        frame[[h for h in HEADS if h in frame]] = ""
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--labelled", type=Path, nargs="+", default=[])
    parser.add_argument("--repeat", type=int, default=1, help="how many times the labelled manifests are listed")
    parser.add_argument("--transcripts-only", nargs="+", default=[], metavar="MANIFEST[:N]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    frame = mix(args.labelled, [parse_sample(s) for s in args.transcripts_only], args.repeat, args.seed)
    write_manifest(frame, args.out)
    hours = pd.to_numeric(frame["duration"], errors="coerce").sum() / 3600
    print(f"{args.out}: {len(frame)} clips, {hours:.2f} h", file=sys.stderr)


if __name__ == "__main__":
    main()
