"""Generic CSV/TSV list of utterances (`--source csv`, and `--source synth`).

    path,text[,age,gender,accent,speaker,source,start,end]   (any column names: see `--columns`)

Column names are matched by common aliases (`wav`/`file` for path, `sentence`/`transcript`
for text, `sex` for gender, ...) or given as `columns={"path": "wav", "text": "sentence"}`.
The encoding (UTF-8 with or without BOM, or cp949) and the separator are detected. Relative
audio paths resolve against the table's folder (or `root`), and must stay inside it.
A folder as input means its `manifest.csv` (what `data_utils.synth` writes).
"""

from __future__ import annotations

from pathlib import Path

from data_utils.corpora.common import (
    CorpusError,
    LoadResult,
    Rejection,
    UnsafePath,
    make_rows,
    parse_mapping,
    pick_column,
    read_table,
    resolve_inside,
)

COLUMN_ALIASES = {
    "path": ("path", "audio", "audio_path", "file", "filename", "file_name", "filepath", "wav", "wav_path"),
    "text": ("text", "sentence", "transcript", "transcription", "script", "utterance"),
    "age": ("age", "age_group", "agegroup", "연령", "나이"),
    "gender": ("gender", "sex", "성별"),
    "accent": ("accent", "accents", "dialect", "region", "방언", "지역"),
    "speaker": ("speaker", "speaker_id", "spk", "spk_id", "client_id", "화자"),
    "source": ("source",),
    "start": ("start", "start_time", "begin"),  # seconds: the row is a segment of a longer file
    "end": ("end", "end_time", "stop"),
}


def map_columns(table, columns: dict[str, str], where: Path) -> dict[str, str]:
    """canonical name -> column of `table`: the user's mapping first, then the aliases."""
    unknown = [c for c in columns.values() if c not in table.columns]
    if unknown:
        raise CorpusError(f"{where}: no column(s) {', '.join(unknown)}; the table has {', '.join(table.columns)}")
    mapping = dict(columns)
    for canonical, aliases in COLUMN_ALIASES.items():
        if canonical not in mapping:
            found = pick_column(table, aliases)
            if found is not None:
                mapping[canonical] = found
    return mapping


def load(input_path: Path, columns: str | dict | None = None, delimiter: str | None = None,
         encoding: str | None = None, root: Path | None = None) -> LoadResult:
    input_path = Path(input_path)
    table_path = input_path / "manifest.csv" if input_path.is_dir() else input_path
    bad_lines: list[list[str]] = []
    table = read_table(table_path, delimiter=delimiter, encoding=encoding, bad_lines=bad_lines)
    mapping = map_columns(table, parse_mapping(columns), table_path)
    missing = [c for c in ("path", "text") if c not in mapping]
    if missing:
        raise CorpusError(f"{table_path}: no {' or '.join(missing)} column (have {', '.join(table.columns)}); "
                          "name it with --columns path=COLUMN,text=COLUMN")
    corpus_root = Path(root) if root else table_path.parent
    records, rejected = [], [Rejection("", "malformed metadata line", "\t".join(f)[:200]) for f in bad_lines]
    for _, line in table.iterrows():
        try:
            path = resolve_inside(corpus_root, line[mapping["path"]])
        except UnsafePath as error:
            rejected.append(Rejection(str(line[mapping["path"]]), error.reason, str(error)))
            continue
        record = {key: line[column] for key, column in mapping.items() if key != "path"}
        record.update(path=str(path), source=record.get("source") or "csv")
        records.append(record)
    return LoadResult(make_rows(records), rejected)
