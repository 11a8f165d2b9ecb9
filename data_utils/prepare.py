"""Turn a corpus in its native layout into canonical train/valid/test manifests.

    python -m data_utils.prepare --source {csv,commonvoice,aihub,kspon,folder,deeply,kss,synth} \\
        --input PATH --out DIR [--split 0.8,0.1,0.1] [--group-by speaker] [--stratify gender] [--seed 0]

Writes DIR/train.csv, valid.csv, test.csv (canonical manifests; audio outside DIR keeps its
absolute path, segments cut from long recordings go to DIR/segments/), DIR/labels.json (the
label classes of train.csv, which `distributed.train --train DIR/train.csv` then uses),
DIR/report.json (counts, split, warnings) and DIR/rejected.csv (every row left out, with its
reason), and prints a short summary.

Loader options: --columns path=wav,text=sentence (csv; folder: speaker-table columns),
--delimiter, --encoding, --root (csv); --tsv (commonvoice); --text-field, --audio-root
(aihub; kspon for .trn lists); --speaker-table FILE --speaker-column spk, --transcript-dirs
transcript,script (folder).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import pandas as pd

from data_utils.corpora import LOADERS, CorpusError
from data_utils.corpora.checks import check_rows
from data_utils.corpora.report import reason_counts, write_report
from data_utils.labels import LABELS_NAME, LabelSet
from data_utils.manifest import HEADS, normalize_labels, write_manifest
from data_utils.splits import PARTS, parse_fractions, split_manifest
from data_utils.text import TextNormalizer

LOADER_OPTIONS = ("columns", "delimiter", "encoding", "root", "tsv", "text_field", "audio_root",
                  "speaker_table", "speaker_column", "transcript_dirs")


def loader_options(source: str, options: dict) -> tuple[dict, list[str]]:
    """The options `source`'s loader takes, and a note for each given option it ignores."""
    accepted = inspect.signature(LOADERS[source]).parameters
    given = {k: v for k, v in options.items() if v is not None}
    ignored = [f"--{k.replace('_', '-')} does nothing for --source {source}" for k in given if k not in accepted]
    return {k: v for k, v in given.items() if k in accepted}, ignored


def describe_part(frame: pd.DataFrame) -> dict:
    speakers = frame["speaker"].astype(str).str.strip() if "speaker" in frame else pd.Series(dtype=str)
    labels = {head: frame[head][frame[head].astype(str).ne("")].value_counts().sort_index().to_dict()
              for head in HEADS if head in frame}
    return {"rows": len(frame), "speakers": int(speakers[speakers.ne("")].nunique()),
            "hours": round(float(pd.to_numeric(frame["duration"], errors="coerce").sum()) / 3600, 4),
            "labels": {h: {str(k): int(v) for k, v in counts.items()} for h, counts in labels.items()}}


def prepare(source: str, input_path: Path, out: Path, fractions=(0.8, 0.1, 0.1), group_by: str | None = "speaker",
            stratify: str | None = None, seed: int = 0, decode: bool = True,
            normalizer: TextNormalizer | None = None, **options) -> dict:
    """Load, check, split and write; returns the summary that report.json holds (plus rejections)."""
    if source not in LOADERS:
        raise CorpusError(f"unknown source {source!r}; choose one of {', '.join(LOADERS)}")
    input_path, out = Path(input_path), Path(out)
    if not input_path.exists():
        raise CorpusError(f"{input_path}: no such file or folder")
    kwargs, notes = loader_options(source, options)
    loaded = LOADERS[source](input_path, **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    kept, refused = check_rows(loaded.rows, normalizer, decode=decode, segment_dir=out / "segments")
    rejected = loaded.rejected + refused
    kept = normalize_labels(kept)

    split = split_manifest(kept, fractions, group_by=group_by, stratify=stratify, seed=seed)
    for name, part in split.parts.items():
        write_manifest(part, out / f"{name}.csv", relative_to=out)
    labels = LabelSet.fit(split.parts["train"])
    labels.save(out)
    summary = {
        "source": source, "input": str(input_path.absolute()), "out": str(out.absolute()),
        "rows": loaded.total, "kept": len(kept), "check": "decode" if decode else "header",
        "split": {"method": split.method, "fractions": [round(f, 4) for f in fractions], "seed": seed,
                  "parts": {name: describe_part(part) for name, part in split.parts.items()},
                  "warnings": split.warnings},
        "labels": labels.classes, "notes": loaded.notes + notes,
    }
    write_report(out, summary, rejected)
    return {**summary, "rejected": reason_counts(rejected)}


def format_summary(summary: dict) -> str:
    lines = [f"{summary['source']}: {summary['rows']} rows -> {summary['kept']} kept, "
             f"{sum(summary['rejected'].values())} rejected"]
    lines += [f"  rejected, {reason}: {count}" for reason, count in summary["rejected"].items()]
    lines += [f"  note: {note}" for note in summary["notes"]]
    split = summary["split"]
    lines.append(f"split: {split['method']}")
    for name in PARTS:
        part = split["parts"][name]
        lines.append(f"  {name:<5} {part['rows']:>6} rows {part['speakers']:>5} speakers {part['hours'] * 60:8.1f} min"
                     + "".join(f"  {h}: {', '.join(f'{k} {v}' for k, v in c.items())}"
                               for h, c in part["labels"].items() if c))
    lines += [f"  warning: {w}" for w in split["warnings"]]
    heads = ", ".join(f"{h} ({', '.join(c)})" for h, c in summary["labels"].items()) or "none (fewer than 2 classes)"
    lines.append(f"{LABELS_NAME} heads: {heads}")
    lines.append(f"wrote {summary['out']}/{{train,valid,test}}.csv, {LABELS_NAME}, report.json, rejected.csv")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, choices=sorted(LOADERS))
    parser.add_argument("--input", required=True, type=Path, help="the corpus folder or metadata file")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--split", default="0.8,0.1,0.1", help="train,valid,test fractions (default 0.8,0.1,0.1)")
    parser.add_argument("--group-by", default="speaker",
                        help="keep each value of this column in one split (default speaker; 'none' to split rows)")
    parser.add_argument("--stratify", default=None, help="balance this label across splits, e.g. gender")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", choices=("decode", "header"), default="decode",
                        help="decode every file (default) or only read headers (faster, misses truncated data)")
    parser.add_argument("--latin-digits", choices=("read", "keep", "drop"), default="read",
                        help="transcripts with Latin letters or digits: read them out (default), keep, or drop the row")
    loader = parser.add_argument_group("loader options")
    loader.add_argument("--columns", help="canonical=column pairs, e.g. path=wav,text=sentence")
    loader.add_argument("--delimiter", help="table separator (default: detected); 'tab' for a tab")
    loader.add_argument("--encoding", help="metadata encoding (default: UTF-8, else cp949)")
    loader.add_argument("--root", type=Path, help="csv: folder that relative audio paths resolve against")
    loader.add_argument("--tsv", help="commonvoice: which TSV (default validated.tsv)")
    loader.add_argument("--text-field", help="aihub dialect: utterance field with the transcript (default form)")
    loader.add_argument("--audio-root", type=Path, help="aihub/kspon: where the audio lies, if not beside the labels")
    loader.add_argument("--speaker-table", type=Path, help="folder: CSV/TSV with labels per speaker")
    loader.add_argument("--speaker-column", help="folder: the speaker table's speaker column (default speaker)")
    loader.add_argument("--transcript-dirs", help="folder: sibling transcript folders, preferred first "
                                                  "(default transcript,script)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        fractions = parse_fractions(args.split)
    except ValueError as error:
        parser.error(str(error))
    options = {name: getattr(args, name) for name in LOADER_OPTIONS}
    if options["delimiter"] in ("tab", "\\t"):
        options["delimiter"] = "\t"
    try:
        summary = prepare(
            args.source, args.input, args.out, fractions,
            group_by=None if args.group_by.lower() == "none" else args.group_by, stratify=args.stratify,
            seed=args.seed, decode=args.check == "decode", normalizer=TextNormalizer(latin_digits=args.latin_digits),
            **options,
        )
    except (CorpusError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    if not summary["kept"]:
        print("error: no usable rows; see rejected.csv for why", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
