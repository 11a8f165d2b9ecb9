"""Mozilla Common Voice: `validated.tsv` (or another split's TSV) with the clips in `clips/`.

    client_id  path  sentence_id  sentence  ...  age  gender  accents  variant  locale  segment

The speaker is `client_id`; ages are buckets (`twenties`), genders `male_masculine` /
`female_feminine` (other values mean unknown here). `accents` is free text that contributors
type, several values joined by `|`: the first one naming a Korean region is kept, the rest
("reading book", "Ukrainian", "차분함") describe a voice, not a region, and count as unknown.
Rows whose clip is absent (a partial download) come back as rejected, one per row.

The TSV is read without quote handling, as Common Voice writes it: a sentence that starts
with `"` is text. A quote-aware CSV reader would glue rows together at such sentences
(the real Korean validated.tsv has 1,739 rows; read with quoting, it seems to have 1,683).
"""

from __future__ import annotations

from pathlib import Path

from data_utils.corpora.common import (
    CorpusError,
    LoadResult,
    Rejection,
    UnsafePath,
    make_rows,
    read_table,
    resolve_inside,
)
from data_utils.manifest import ACCENT_ALIASES, normalize_accent

REGIONS = frozenset(ACCENT_ALIASES.values())


def region_of(accents: str) -> str:
    """The first `|`-separated entry that names a region, as written ('' when none does)."""
    for entry in str(accents).split("|"):
        if normalize_accent(entry) in REGIONS:
            return entry.strip()
    return ""


def load(input_path: Path, tsv: str = "validated.tsv") -> LoadResult:
    input_path = Path(input_path)
    tsv_path = input_path if input_path.is_file() else input_path / tsv
    corpus_root = tsv_path.parent
    bad_lines: list[list[str]] = []
    table = read_table(tsv_path, delimiter="\t", bad_lines=bad_lines)
    missing = [c for c in ("path", "sentence") if c not in table.columns]
    if missing:
        raise CorpusError(f"{tsv_path}: not a Common Voice TSV (no {', '.join(missing)} column)")
    records, rejected = [], [Rejection("", "malformed metadata line", "\t".join(f)[:200]) for f in bad_lines]
    for _, line in table.iterrows():
        try:
            path = resolve_inside(corpus_root / "clips", line["path"])
        except UnsafePath as error:
            rejected.append(Rejection(line["path"], error.reason, str(error)))
            continue
        records.append({
            "path": str(path), "text": line["sentence"], "age": line.get("age", ""),
            "gender": line.get("gender", ""), "accent": region_of(line.get("accents", "")),
            "speaker": line.get("client_id", ""), "source": "commonvoice",
        })
    return LoadResult(make_rows(records), rejected)
