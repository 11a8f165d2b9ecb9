"""Splits (speaker-disjoint, deterministic, tiny corpora) and the `prepare` CLI end to end,
on fixtures and on the real Korean speech samples when they are present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data_utils.manifest import read_manifest
from data_utils.prepare import main
from data_utils.splits import PARTS, allocate, parse_fractions, split_manifest
from tests.test_corpora import make_emotiontts_like, tone

REPO = Path(__file__).resolve().parents[1]


def corpus_frame(speakers: int, per_speaker: int = 5) -> pd.DataFrame:
    rows = [{"path": f"/audio/s{s:02d}_{i}.wav", "text": "말", "speaker": f"s{s:02d}",
             "gender": "female" if s % 2 else "male", "age": "", "accent": "", "duration": 1.0}
            for s in range(speakers) for i in range(per_speaker)]
    return pd.DataFrame(rows)


def speakers_of(split) -> dict[str, set[str]]:
    return {name: set(part["speaker"]) for name, part in split.parts.items()}


# --- splits ----------------------------------------------------------------------------------------

def test_split_is_speaker_disjoint_and_covers_every_row():
    frame = corpus_frame(20)
    split = split_manifest(frame, (0.8, 0.1, 0.1), group_by="speaker", seed=0)
    found = speakers_of(split)
    assert not (found["train"] & found["valid"] or found["train"] & found["test"] or found["valid"] & found["test"])
    assert [len(found[p]) for p in PARTS] == [16, 2, 2]
    assert sorted(pd.concat(split.parts.values())["path"]) == sorted(frame["path"])
    assert split.warnings == []


def test_split_is_deterministic_for_a_seed_and_changes_with_it():
    frame = corpus_frame(30)
    first = speakers_of(split_manifest(frame, seed=7))
    assert first == speakers_of(split_manifest(frame.sample(frac=1, random_state=1), seed=7))  # row order is irrelevant
    assert any(speakers_of(split_manifest(frame, seed=s))["test"] != first["test"] for s in range(8, 12))


def test_stratified_split_puts_both_genders_in_each_held_out_part():
    frame = corpus_frame(20)
    split = split_manifest(frame, (0.6, 0.2, 0.2), stratify="gender", seed=3)
    for name in ("valid", "test"):
        assert set(split.parts[name]["gender"]) == {"female", "male"}
    assert "stratified by gender" in split.method


def test_two_speakers_train_on_one_and_say_so():
    split = split_manifest(corpus_frame(2, per_speaker=10), seed=0)
    found = speakers_of(split)
    assert len(found["train"]) == 1 and found["valid"] == found["test"] and not found["train"] & found["test"]
    assert [len(split.parts[p]) for p in PARTS] == [10, 5, 5]
    assert any("impossible" in w and "share the held-out" in w for w in split.warnings)


def test_one_speaker_or_none_splits_rows_with_a_warning():
    split = split_manifest(corpus_frame(1, per_speaker=10), seed=0)
    assert [len(split.parts[p]) for p in PARTS] == [8, 1, 1]
    assert any("only one speaker" in w for w in split.warnings)
    unknown = corpus_frame(3, per_speaker=4).assign(speaker="")
    split = split_manifest(unknown, seed=0)
    assert split.method.startswith("random rows") and any("no speaker known" in w for w in split.warnings)


def test_tiny_corpus_gives_empty_parts_only_with_a_warning():
    split = split_manifest(corpus_frame(1, per_speaker=2).assign(speaker=""), seed=0)
    assert sum(len(p) for p in split.parts.values()) == 2
    empty = [name for name in PARTS if split.parts[name].empty]
    assert empty and all(any(w.startswith(f"{name} is empty") for w in split.warnings) for name in empty)


def test_fractions_and_allocation():
    assert parse_fractions("80,10,10") == pytest.approx((0.8, 0.1, 0.1))
    for bad in ("0.8,0.2", "a,b,c", "0,0.5,0.5", "0.8,-0.1,0.3"):
        with pytest.raises(ValueError):
            parse_fractions(bad)
    assert allocate(16, (0.8, 0.1, 0.1)) == [13, 2, 1]
    assert allocate(3, (0.8, 0.1, 0.1)) == [1, 1, 1]
    assert allocate(10, (0.7, 0.3, 0.0)) == [7, 3, 0]


# --- the CLI on fixtures ------------------------------------------------------------------------------

def test_prepare_folder_writes_manifests_labels_and_report(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    table_path = make_emotiontts_like(corpus)
    for speaker in ("pmc", "pfd"):  # four speakers, so that each part gets one
        for i in (1, 2):
            tone(corpus / speaker / "wav" / f"{speaker}{i:05d}.flac")
            (corpus / speaker / "transcript").mkdir(exist_ok=True)
            (corpus / speaker / "transcript" / f"{speaker}{i:05d}.txt").write_text("안녕하세요", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["--source", "folder", "--input", str(corpus), "--out", str(out), "--speaker-table", str(table_path),
                 "--speaker-column", "spk", "--split", "0.5,0.25,0.25", "--seed", "1"])
    assert code == 0
    parts = {name: read_manifest(out / f"{name}.csv") for name in PARTS}
    assert [len(parts[p]) for p in PARTS] == [4, 2, 2]
    speakers = [set(parts[p]["speaker"]) for p in PARTS]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])
    assert all(Path(p).is_file() for part in parts.values() for p in part["path"])
    assert all(part["duration"].round(2).eq(0.4).all() for part in parts.values())
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["rows"] == 9 and report["kept"] == 8 and report["rejected"] == {"missing audio": 1}
    rejected = pd.read_csv(out / "rejected.csv", dtype=str)
    assert rejected["path"].map(lambda p: Path(p).name).tolist() == ["pmb00003.txt"]
    assert json.loads((out / "labels.json").read_text(encoding="utf-8")) == report["labels"]
    printed = capsys.readouterr().out
    assert "9 rows -> 8 kept, 1 rejected" in printed and "missing audio: 1" in printed


def test_prepare_aihub_dialect_writes_segments_inside_out(tmp_path):
    tone(tmp_path / "in" / "DKSR0002.wav", seconds=2.0)
    doc = {"id": "DKSR0002", "speaker": [{"id": "A", "sex": "남성", "age": "40대", "birthplace": "전라남도"}],
           "utterance": [{"form": "워메 좋은 거", "start": 0.0, "end": 1.0, "speaker_id": "A"},
                         {"form": "그라제", "start": 1.0, "end": 2.0, "speaker_id": "A"}]}
    (tmp_path / "in" / "DKSR0002.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--source", "aihub", "--input", str(tmp_path / "in"), "--out", str(out), "--split", "1,0,0"]) == 0
    written = pd.read_csv(out / "train.csv", dtype=str, keep_default_na=False)
    assert written["path"].str.startswith("segments/").all()  # relative to the manifest's folder
    train = read_manifest(out / "train.csv")
    assert train["text"].tolist() == ["워메 좋은 거", "그라제"] and all(Path(p).is_file() for p in train["path"])
    assert train[["gender", "age", "accent"]].drop_duplicates().values.tolist() == [["male", "40s", "jeolla"]]


def test_prepare_synth_manifest_and_cli_errors(tmp_path, capsys):
    corpus = tmp_path / "synth"
    for i in range(6):
        tone(corpus / "wavs" / f"{i}.wav")
    pd.DataFrame({"path": [f"wavs/{i}.wav" for i in range(6)], "text": ["가나다"] * 6, "age": ["20s"] * 6,
                  "gender": ["female", "male"] * 3, "accent": ["seoul"] * 6, "speaker": [f"v{i}" for i in range(6)],
                  "duration": [""] * 6, "source": ["synth"] * 6}).to_csv(corpus / "manifest.csv", index=False)
    out = tmp_path / "out"
    assert main(["--source", "synth", "--input", str(corpus), "--out", str(out), "--columns", "text=text",
                 "--speaker-table", "x.tsv"]) == 0
    printed = capsys.readouterr().out
    assert "--speaker-table does nothing for --source synth" in printed
    assert sum(len(read_manifest(out / f"{p}.csv")) for p in PARTS) == 6
    assert main(["--source", "csv", "--input", str(tmp_path / "nowhere.csv"), "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--source", "folder", "--input", str(tmp_path / "empty"), "--out", str(tmp_path / "out2")]) == 1
    assert "no usable rows" in capsys.readouterr().err


# --- the real Korean speech samples ----------------------------------------------------------------------

def test_real_commonvoice_acceptance_command(real_speech, tmp_path):
    """The acceptance command, as a user runs it: 29 clips kept, every absent clip reported."""
    out = tmp_path / "cv"
    done = subprocess.run([sys.executable, "-m", "data_utils.prepare", "--source", "commonvoice", "--input",
                           str(real_speech / "commonvoice-ko"), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # 1,739 lines in validated.tsv (a quote-aware reader would merge some and see 1,683)
    assert (report["rows"], report["kept"], report["rejected"]) == (1739, 29, {"missing audio": 1710})
    assert "1739 rows -> 29 kept, 1710 rejected" in done.stdout
    parts = [read_manifest(out / f"{p}.csv") for p in PARTS]
    assert sum(map(len, parts)) == 29 and all(len(p) for p in parts)
    assert not set(parts[0]["speaker"]) & (set(parts[1]["speaker"]) | set(parts[2]["speaker"]))


def test_real_emotiontts_folder_is_speaker_disjoint_with_labels(real_speech, tmp_path):
    corpus = real_speech / "emotiontts-personality"
    out = tmp_path / "emo"
    assert main(["--source", "folder", "--input", str(corpus), "--speaker-table",
                 str(corpus / "speakers_and_utterances.tsv"), "--out", str(out), "--check", "header"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (report["kept"], report["rejected"]) == (463, {"missing audio": 1})
    parts = {p: read_manifest(out / f"{p}.csv") for p in PARTS}
    speakers = {p: set(parts[p]["speaker"]) for p in PARTS}
    assert len(set.union(*speakers.values())) == 16 and all(speakers.values())
    assert not (speakers["train"] & speakers["valid"] or speakers["train"] & speakers["test"]
                or speakers["valid"] & speakers["test"])
    train = parts["train"]
    assert set(train["gender"]) == {"female", "male"} and {"teens", "20-40s", "50s+"} & set(train["age"])
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    assert {"gender", "age"} <= set(labels)
    assert not train["text"].str.contains(r"\d").any()  # transcript/ (spelled out), not script/


def test_real_deeply_and_kss_load(real_speech, tmp_path):
    assert main(["--source", "deeply", "--input", str(real_speech / "deeply-read-speech"), "--out",
                 str(tmp_path / "deeply"), "--check", "header"]) == 0
    report = json.loads((tmp_path / "deeply" / "report.json").read_text(encoding="utf-8"))
    assert report["kept"] == 300 and report["rejected"] == {}
    assert {p: report["split"]["parts"][p]["speakers"] for p in PARTS} == {"train": 1, "valid": 1, "test": 1}
    assert any("impossible" in w for w in report["split"]["warnings"])
    assert main(["--source", "kss", "--input", str(real_speech / "kss-sample"), "--out", str(tmp_path / "kss"),
                 "--check", "header"]) == 0
    report = json.loads((tmp_path / "kss" / "report.json").read_text(encoding="utf-8"))
    assert report["kept"] == 100 and report["split"]["parts"]["train"]["rows"] == 80
