"""Deeply Korean Read Speech Corpus: one JSON describing every utterance, audio in room folders.

    {room: {utt_id: {"text", "age", "sex", "subjectID", "speaker", "noise", "location", ...}}}
    ROOM/utt_id.wav (or .flac)

`sex` 0 is female, 1 male (the corpus's README). Speakers come in pairs per subject group
(`subjectID` sub1001, `speaker` a/b): the speaker is `sub1001a`. The same script is read in
every room, so identical sentences recur across rooms and speakers.
"""

from __future__ import annotations

import json
from pathlib import Path

from data_utils.corpora.common import (
    CorpusError,
    LoadResult,
    Rejection,
    UnsafePath,
    decode_text,
    find_audio,
    make_rows,
    resolve_inside,
)

SEX = {"0": "female", "1": "male"}


def _corpus_json(input_path: Path) -> Path:
    if input_path.is_file():
        return input_path
    found = sorted(input_path.glob("*.json"))
    if not found:
        raise CorpusError(f"{input_path}: no corpus JSON (Korean_Read_Speech_Corpus*.json) found")
    return found[0]


def load(input_path: Path) -> LoadResult:
    json_path = _corpus_json(Path(input_path).absolute())
    root = json_path.parent
    try:
        corpus = json.loads(decode_text(json_path.read_bytes()))
    except (ValueError, UnicodeDecodeError) as error:
        raise CorpusError(f"{json_path}: not readable JSON ({error})") from None
    if not isinstance(corpus, dict):
        raise CorpusError(f"{json_path}: expected {{room: {{utterance id: fields}}}}")
    records, rejected = [], []
    for room, utterances in corpus.items():
        if not isinstance(utterances, dict):
            rejected.append(Rejection(str(room), "malformed metadata line", f"room {room!r} is not a mapping"))
            continue
        for utt_id, fields in utterances.items():
            fields = fields if isinstance(fields, dict) else {}
            try:
                expected = resolve_inside(resolve_inside(root, room), utt_id)  # ROOM/utt_id, suffix unknown
            except UnsafePath as error:
                rejected.append(Rejection(f"{room}/{utt_id}", error.reason, str(error)))
                continue
            path = find_audio(expected.parent, expected.name)
            if path is None:
                rejected.append(Rejection(str(expected), "missing audio", f"no audio file {room}/{utt_id}.*"))
                continue
            records.append({
                "path": str(path), "text": str(fields.get("text", "")), "age": str(fields.get("age", "")),
                "gender": SEX.get(str(fields.get("sex", "")), ""),
                "speaker": f"{fields.get('subjectID', '')}{fields.get('speaker', '')}", "source": "deeply",
            })
    return LoadResult(make_rows(records), rejected)
