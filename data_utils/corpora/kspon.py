"""KsponSpeech (AI Hub 한국어 음성): headerless 16 kHz `.pcm` files, each with a same-stem `.txt`
transcript in cp949, in `KsponSpeech_0N/KsponSpeech_NNNN/` folders.

The transcripts keep Kspon's conventions (`b/` noise tags, `(70%)/(칠십 퍼센트)` dual
spellings, `어/` fillers); `TextNormalizer` resolves them when rows are checked. A `.trn`
script list (`KsponSpeech_01/.../KsponSpeech_000001.pcm :: text`) works as input too, with
paths relative to `audio_root` (default: the list's folder). Kspon names no speakers: the
`KsponSpeech_NNNN` folders are batches of 1,000 files, not people.
"""

from __future__ import annotations

from pathlib import Path

from data_utils.corpora.common import (
    LoadResult,
    Rejection,
    UnsafePath,
    make_rows,
    read_text_file,
    resolve_inside,
)

AUDIO_SUFFIXES = (".pcm", ".wav")


def _from_folder(root: Path) -> LoadResult:
    records, rejected = [], []
    audio = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    with_audio = {p.with_suffix("") for p in audio}
    for path in audio:
        transcript = path.with_suffix(".txt")
        if not transcript.is_file():
            rejected.append(Rejection(str(path), "no transcript", f"{transcript.name} not found"))
            continue
        try:
            text = read_text_file(transcript)
        except UnicodeDecodeError as error:
            rejected.append(Rejection(str(path), "unreadable transcript", str(error)))
            continue
        records.append({"path": str(path), "text": text, "source": "kspon"})
    for transcript in sorted(root.rglob("*.txt")):
        if transcript.with_suffix("") not in with_audio:
            rejected.append(Rejection(str(transcript.with_suffix(".pcm")), "missing audio",
                                      f"transcript {transcript.name} has no audio file"))
    return LoadResult(make_rows(records), rejected)


def _from_trn(trn: Path, audio_root: Path) -> LoadResult:
    records, rejected = [], []
    for number, line in enumerate(read_text_file(trn).splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, text = line.partition(" :: ")
        if not sep:
            rejected.append(Rejection("", "malformed metadata line", f"{trn.name}:{number}: no ' :: ' separator"))
            continue
        try:
            path = resolve_inside(audio_root, name.strip())
        except UnsafePath as error:
            rejected.append(Rejection(name.strip(), error.reason, str(error)))
            continue
        records.append({"path": str(path), "text": text, "source": "kspon"})
    return LoadResult(make_rows(records), rejected)


def load(input_path: Path, audio_root: Path | None = None) -> LoadResult:
    input_path = Path(input_path)
    if input_path.is_file():
        return _from_trn(input_path, Path(audio_root) if audio_root else input_path.parent)
    return _from_folder(input_path.absolute())
