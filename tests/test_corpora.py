"""Corpus loaders on small fixtures written in each native format, and the row checks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from data_utils.corpora import LOADERS, aihub, commonvoice, deeply, folder, kspon, kss, table
from data_utils.corpora.checks import check_rows
from data_utils.corpora.common import UnsafePath, read_table, resolve_inside
from data_utils.corpora.report import write_report
from data_utils.manifest import normalize_labels

SR = 16000


def tone(path: Path, seconds: float = 0.4, freq: float = 220.0, **kwargs) -> Path:
    """A short sine at 16 kHz in whatever format the suffix says (wav, flac, mp3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, **kwargs)
    return path


def pcm(path: Path, seconds: float = 0.4) -> Path:
    """KsponSpeech audio: headerless 16 kHz signed 16-bit little-endian."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    path.write_bytes((0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2").tobytes())
    return path


def reasons(result) -> dict[str, list[str]]:
    """reason -> file names of the rejected rows."""
    out: dict[str, list[str]] = {}
    for r in result.rejected:
        out.setdefault(r.reason, []).append(Path(r.path).name)
    return out


# --- paths and metadata files ------------------------------------------------------------------

def test_resolve_inside_refuses_paths_leaving_the_corpus(tmp_path):
    assert resolve_inside(tmp_path, "a/b.wav") == tmp_path / "a" / "b.wav"
    assert resolve_inside(tmp_path, "a/../b.wav") == tmp_path / "b.wav"
    assert resolve_inside(tmp_path, str(tmp_path / "c.wav")) == tmp_path / "c.wav"
    for escaping in ("../../etc/passwd", "/etc/passwd", "a/../../x.wav", "..\\..\\x.wav"):
        try:
            resolve_inside(tmp_path, escaping)
        except UnsafePath as error:
            assert error.reason == "path outside corpus"
        else:
            raise AssertionError(f"{escaping} was accepted")


def test_read_table_detects_cp949_and_separator(tmp_path):
    (tmp_path / "a.csv").write_bytes("파일;문장\nx.wav;안녕하세요\n".encode("cp949"))
    (tmp_path / "b.tsv").write_bytes("\ufeffpath\tsentence\nx.wav\t\"따옴표로 시작\n".encode())
    a, b = read_table(tmp_path / "a.csv"), read_table(tmp_path / "b.tsv")
    assert list(a.columns) == ["파일", "문장"] and a.iloc[0, 1] == "안녕하세요"
    assert list(b.columns) == ["path", "sentence"] and b.iloc[0, 1] == '"따옴표로 시작'


# --- csv -----------------------------------------------------------------------------------------

def test_csv_loader_with_column_mapping_in_cp949(tmp_path):
    tone(tmp_path / "wavs" / "a.wav")
    tone(tmp_path / "wavs" / "b.flac")
    lines = ["wav,sentence,sex,나이", "wavs/a.wav,첫 문장입니다,여,23", "wavs/b.flac,두 번째,M,thirties",
             "../../etc/passwd,탈출,,", "/etc/passwd,절대 경로,,"]
    (tmp_path / "list.csv").write_bytes("\r\n".join(lines).encode("cp949"))
    result = table.load(tmp_path / "list.csv", columns="path=wav,text=sentence")
    assert result.rows["text"].tolist() == ["첫 문장입니다", "두 번째"]
    assert result.rows["path"].tolist() == [str(tmp_path / "wavs" / "a.wav"), str(tmp_path / "wavs" / "b.flac")]
    assert normalize_labels(result.rows)[["gender", "age"]].values.tolist() == [["female", "20s"], ["male", "30s"]]
    assert reasons(result) == {"path outside corpus": ["passwd", "passwd"]}


def test_csv_loader_names_missing_columns(tmp_path):
    (tmp_path / "list.csv").write_text("file_id,words\nx,y\n", encoding="utf-8")
    try:
        table.load(tmp_path / "list.csv")
    except ValueError as error:
        assert "--columns" in str(error) and "file_id" in str(error)
    else:
        raise AssertionError("a table without path/text columns was accepted")


# --- Common Voice ----------------------------------------------------------------------------------

def test_commonvoice_missing_clip_empty_labels_and_accents(tmp_path):
    tone(tmp_path / "clips" / "cv_1.mp3", format="MP3")
    tone(tmp_path / "clips" / "cv_2.mp3", format="MP3")
    header = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment"
    rows = [
        "spk1\tcv_1.mp3\ts1\t\"안녕\" 하고 말했다.\t\t2\t0\ttwenties\tfemale_feminine\t서울|차분함\t\tko\t",
        "spk2\tcv_2.mp3\ts2\t반갑습니다\t\t2\t0\t\t\treading book\t\tko\t",
        "spk3\tcv_404.mp3\ts3\t없는 파일\t\t2\t0\tfourties\tmale_masculine\t\t\tko\t",
    ]
    (tmp_path / "validated.tsv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    result = commonvoice.load(tmp_path)
    assert result.total == 3 and len(result.rows) == 3  # the loader keeps the missing clip for the checks
    labels = normalize_labels(result.rows)
    assert labels[["age", "gender", "accent", "speaker"]].values.tolist() == [
        ["20s", "female", "seoul", "spk1"], ["", "", "", "spk2"], ["40s", "male", "", "spk3"]]
    assert result.rows["text"].iloc[0] == '"안녕" 하고 말했다.'
    kept, rejected = check_rows(result.rows)
    assert kept["path"].map(lambda p: Path(p).name).tolist() == ["cv_1.mp3", "cv_2.mp3"]
    assert [(Path(r.path).name, r.reason) for r in rejected] == [("cv_404.mp3", "missing audio")]
    assert kept["duration"].round(2).tolist() == [0.4, 0.4]


# --- AI Hub ------------------------------------------------------------------------------------------

def test_aihub_free_conversation_finds_audio_in_a_parallel_tree(tmp_path):
    labels, audio = tmp_path / "라벨링데이터" / "A", tmp_path / "원천데이터" / "A"
    tone(audio / "utt_001.wav")
    labels.mkdir(parents=True)
    documents = {
        "utt_001": {"fileNm": "utt_001.wav", "stt": "(SN:) 오늘 날씨 좋네요", "gender": "여", "age": 23, "id": "R01"},
        "utt_002": {"fileNm": "utt_002.wav", "stt": "파일이 없어요", "gender": "남", "age": 61, "id": "R02"},
        "utt_003": {"fileNm": "../../../etc/passwd", "stt": "탈출", "gender": "남", "age": 30, "id": "R03"},
    }
    for stem, d in documents.items():
        doc = {"발화정보": {"stt": d["stt"], "fileNm": d["fileNm"], "recrdTime": "1.0"}, "대화정보": {"cityCode": "서울"},
               "녹음자정보": {"gender": d["gender"], "age": d["age"], "recorderId": d["id"]}}
        (labels / f"{stem}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (labels / "broken.json").write_text("{not json", encoding="utf-8")
    result = aihub.load(tmp_path)
    assert len(result.rows) == 1
    row = normalize_labels(result.rows).iloc[0]
    assert (Path(row["path"]), row["gender"], row["age"], row["speaker"]) == (audio / "utt_001.wav", "female", "20s", "R01")
    assert "SN" not in row["text"]
    assert reasons(result) == {"missing audio": ["utt_002.wav"], "path outside corpus": ["passwd"],
                               "unreadable label file": ["broken.json"]}


def test_aihub_dialect_segments_are_cut_into_files(tmp_path):
    tone(tmp_path / "DKSR0001.wav", seconds=3.0)
    doc = {
        "id": "DKSR0001",
        "speaker": [{"id": "1", "age": "60대", "sex": "여성", "birthplace": "경상남도", "principal_residence": "경상남도 창원시"}],
        "utterance": [
            {"id": "u1", "form": "밥 뭇나", "standard_form": "밥 먹었니", "start": 0.0, "end": 1.0, "speaker_id": "1"},
            {"id": "u2", "form": "", "dialect_form": "고마 해라", "start": "1.0", "end": "2.5", "speaker_id": "1"},
            {"id": "u3", "form": "너무 길어", "start": 2.5, "end": 9.0, "speaker_id": "1"},
            {"id": "u4", "form": "...", "start": 0.5, "end": 0.8, "speaker_id": "1"},
        ],
    }
    (tmp_path / "DKSR0001.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = aihub.load(tmp_path)
    assert result.rows[["text", "start", "end"]].values.tolist() == [
        ["밥 뭇나", "0.0", "1.0"], ["고마 해라", "1.0", "2.5"], ["너무 길어", "2.5", "9.0"], ["...", "0.5", "0.8"]]
    kept, rejected = check_rows(result.rows, segment_dir=tmp_path / "out" / "segments")
    assert [Path(p).name for p in kept["path"]] == ["DKSR0001_0000000-0001000.wav", "DKSR0001_0001000-0002500.wav"]
    assert all(Path(p).is_file() and Path(p).is_relative_to(tmp_path / "out" / "segments") for p in kept["path"])
    assert kept["duration"].round(3).tolist() == [1.0, 1.5]
    assert sf.info(kept["path"].iloc[1]).frames == int(1.5 * SR)
    assert "start" not in kept.columns
    assert sorted(r.reason for r in rejected) == ["bad segment", "empty text"]
    labels = normalize_labels(kept)
    assert labels[["age", "gender", "accent", "speaker"]].iloc[0].tolist() == ["60s+", "female", "gyeongsang", "DKSR0001:1"]


# --- KsponSpeech ---------------------------------------------------------------------------------------

def test_kspon_pcm_with_cp949_transcripts(tmp_path):
    batch = tmp_path / "KsponSpeech_01" / "KsponSpeech_0001"
    pcm(batch / "KsponSpeech_000001.pcm")
    (batch / "KsponSpeech_000001.txt").write_bytes("o/ (70%)/(칠십 퍼센트) 할인 b/ 해요 어/\n".encode("cp949"))
    pcm(batch / "KsponSpeech_000002.pcm")  # no transcript
    (batch / "KsponSpeech_000003.txt").write_bytes("오디오가 없어요\n".encode("cp949"))
    result = kspon.load(tmp_path)
    assert [Path(p).name for p in result.rows["path"]] == ["KsponSpeech_000001.pcm"]
    assert reasons(result) == {"no transcript": ["KsponSpeech_000002.pcm"], "missing audio": ["KsponSpeech_000003.pcm"]}
    kept, rejected = check_rows(result.rows)
    assert kept["text"].tolist() == ["칠십 퍼센트 할인 해요 어"] and rejected == []
    assert kept["duration"].round(2).tolist() == [0.4]


def test_kspon_trn_list_refuses_escaping_paths(tmp_path):
    pcm(tmp_path / "KsponSpeech_01" / "a.pcm")
    (tmp_path / "train.trn").write_text("KsponSpeech_01/a.pcm :: 안녕 하세요\n../../etc/passwd :: 탈출\nno separator\n",
                                        encoding="utf-8")
    result = kspon.load(tmp_path / "train.trn")
    assert result.rows["text"].tolist() == ["안녕 하세요"]
    assert sorted(r.reason for r in result.rejected) == ["malformed metadata line", "path outside corpus"]


# --- folder with a speaker table -----------------------------------------------------------------------------

def make_emotiontts_like(root: Path) -> Path:
    """SPK/wav/*.flac + SPK/transcript/*.txt (BOM, CRLF, spelled out) + SPK/script/*.txt (digits)."""
    for speaker in ("pfa", "pmb"):
        for i in (1, 2):
            stem = f"{speaker}{i:05d}"
            tone(root / speaker / "wav" / f"{stem}.flac")
            (root / speaker / "transcript").mkdir(parents=True, exist_ok=True)
            (root / speaker / "script").mkdir(parents=True, exist_ok=True)
            (root / speaker / "transcript" / f"{stem}.txt").write_bytes("\ufeff삼십 분 뒤에 봬요?\r\n".encode())
            (root / speaker / "script" / f"{stem}.txt").write_bytes("\ufeff30분 뒤에 봬요.\r\n".encode())
    (root / "pmb" / "transcript" / "pmb00003.txt").write_bytes("\ufeff오디오 없음\r\n".encode())
    (root / "pmb" / "script" / "pmb00003.txt").write_bytes("\ufeff오디오 없음\r\n".encode())
    table_path = root / "speakers.tsv"
    table_path.write_text("utt_id\tspk\tgender\tage_group\tdialect\n"
                          "pfa00001\tpfa\tF\t20-40s\tstandard\npfa00002\tpfa\tF\t20-40s\tstandard\n"
                          "pmb00001\tpmb\tM\tunspecified\tdialect:jeolla(inferred)\n", encoding="utf-8")
    return table_path


def test_folder_prefers_transcripts_and_joins_the_speaker_table(tmp_path):
    table_path = make_emotiontts_like(tmp_path)
    result = folder.load(tmp_path, speaker_table=table_path, speaker_column="spk")
    assert len(result.rows) == 4 and result.rows["speaker"].tolist() == ["pfa", "pfa", "pmb", "pmb"]
    assert reasons(result) == {"missing audio": ["pmb00003.txt"]}  # reported once, not per transcript folder
    kept, rejected = check_rows(result.rows)
    assert kept["text"].tolist() == ["삼십 분 뒤에 봬요"] * 4 and rejected == []  # transcript/, not script/ (30분)
    labels = normalize_labels(kept)
    assert labels[["gender", "age", "accent"]].drop_duplicates().values.tolist() == [
        ["female", "20-40s", "seoul"], ["male", "", "jeolla"]]


def test_folder_flat_layout_and_missing_transcript(tmp_path):
    tone(tmp_path / "a.wav")
    tone(tmp_path / "b.wav")
    (tmp_path / "a.txt").write_bytes("평범한 문장\n".encode("cp949"))
    result = folder.load(tmp_path)
    assert result.rows[["text", "speaker"]].values.tolist() == [["평범한 문장\n", ""]]
    assert reasons(result) == {"no transcript": ["b.wav"]}


# --- Deeply and KSS --------------------------------------------------------------------------------------------

def test_deeply_json_rooms_and_speakers(tmp_path):
    tone(tmp_path / "Studio" / "sub100100a00000.flac")
    tone(tmp_path / "Studio" / "sub100100a00001.wav")
    utt = {"subjectID": "sub1001", "noise": 0, "length": 0.4}
    corpus = {"Studio": {
        "sub100100a00000": {**utt, "speaker": "a", "age": 20, "sex": 0, "text": "저 식당 음식이 맛있나 봐요."},
        "sub100100a00001": {**utt, "speaker": "b", "age": 49, "sex": 1, "text": "아, 저기요."},
        "sub100100a00002": {**utt, "speaker": "a", "age": 20, "sex": 0, "text": "오디오가 없는 줄"},
        "../../../etc/passwd": {**utt, "speaker": "a", "age": 20, "sex": 0, "text": "탈출"},
    }}
    (tmp_path / "Korean_Read_Speech_Corpus_sample.json").write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
    result = deeply.load(tmp_path)
    labels = normalize_labels(result.rows)
    assert labels[["speaker", "age", "gender"]].values.tolist() == [["sub1001a", "20s", "female"], ["sub1001b", "40s", "male"]]
    assert reasons(result) == {"missing audio": ["sub100100a00002"], "path outside corpus": ["passwd"]}


def test_kss_csv_and_original_pipe_transcript(tmp_path):
    tone(tmp_path / "clips" / "1_0000.flac")
    (tmp_path / "transcripts.csv").write_text("path,sentence\nclips/1_0000.flac,그는 괜찮은 척하려고 애썼다.\n"
                                              "clips/1_0001.flac,없는 파일\n", encoding="utf-8")
    result = kss.load(tmp_path)
    assert result.rows[["text", "speaker", "gender"]].values.tolist()[0] == ["그는 괜찮은 척하려고 애썼다.", "kss", "female"]
    original = tmp_path / "orig"
    tone(original / "1" / "1_0000.wav")
    (original / "transcript.v.1.4.txt").write_text("1/1_0000.wav|3시에 봐요.|세시에 봐요.|세시|1.2|See you at 3.\n",
                                                   encoding="utf-8")
    rows = kss.load(original).rows
    assert rows[["path", "text"]].values.tolist() == [[str(original / "1" / "1_0000.wav"), "세시에 봐요."]]


# --- checks and the report ----------------------------------------------------------------------------------------

def test_checks_report_every_bad_row_with_its_reason(tmp_path):
    good = tone(tmp_path / "good.wav")
    (tmp_path / "garbage.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio data at all")
    (tmp_path / "empty.flac").write_bytes(b"")
    sf.write(str(tmp_path / "silent.wav"), np.zeros(SR // 2, dtype=np.float32), SR)
    rows = pd.DataFrame({"path": [str(good), str(tmp_path / "garbage.wav"), str(tmp_path / "empty.flac"),
                                  str(tmp_path / "silent.wav"), str(tmp_path / "absent.wav"), str(good), str(good)],
                         "text": ["좋아요", "깨진 파일", "빈 파일", "조용", "없음", "!!! ...", "좋아요"]})
    for column in ("age", "gender", "accent", "speaker", "source"):
        rows[column] = ""
    kept, rejected = check_rows(rows)
    assert kept["path"].tolist() == [str(good)]
    found = {(Path(r.path).name, r.reason) for r in rejected}
    assert found == {("garbage.wav", "undecodable audio"), ("empty.flac", "undecodable audio"),
                     ("silent.wav", "silent audio"), ("absent.wav", "missing audio"),
                     ("good.wav", "duplicate row")}
    # the '!!! ...' row repeats good.wav: a duplicate is reported before its text is looked at
    write_report(tmp_path, {"source": "test"}, rejected)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["rejected"] == {"duplicate row": 2, "undecodable audio": 2, "missing audio": 1, "silent audio": 1}
    with open(tmp_path / "rejected.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(rejected) == 6


def test_checks_reject_text_that_normalises_to_nothing(tmp_path):
    good = tone(tmp_path / "a.wav")
    other = tone(tmp_path / "b.wav")
    rows = pd.DataFrame({"path": [str(good), str(other)], "text": ["!!! ...", "b/ n/"]})
    kept, rejected = check_rows(rows)
    assert kept.empty and [r.reason for r in rejected] == ["empty text", "empty text"]


def test_registry_names_every_source():
    assert set(LOADERS) == {"csv", "commonvoice", "aihub", "kspon", "folder", "deeply", "kss", "synth"}
    assert all(callable(load) for load in LOADERS.values())
