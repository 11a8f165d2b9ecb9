"""Builds the bad-input corpus of the robustness tests in a temporary folder.

Two halves: audio files (every way a user's upload can be odd or broken) and metadata for
`prepare --source csv` (row-level faults in one table, table-level faults in files of their
own). This module only writes the inputs; what the toolkit must do with each one is stated
next to the assertions, in `tests/test_robustness.py`.

    root/
      audio/            one file per AUDIO_WRITERS case (one of them a folder, one never written)
      clips/            a short tone for every metadata row, so no two rows share audio by accident
      rows.csv          GOOD_ROWS (enough speakers to split), one row per ROW_CASES entry, one per audio file
      *.csv             TABLE_CASES, one file each
    root/../outside.wav a real file that a row names with a path leaving the corpus
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
CLIP_SECONDS = 0.5  # short: the untrained model runs on every loaded clip on a busy CPU
LONG_SECONDS = 601.0  # just over load_audio's default limit of 600 s


def tone(seconds: float = CLIP_SECONDS, rate: int = SAMPLE_RATE, channels: int = 1, pitch: float = 220.0) -> np.ndarray:
    """A voiced-sounding signal (a tone with a slow amplitude wobble), float32 in [-0.45, 0.45]."""
    t = np.arange(int(round(seconds * rate))) / rate
    mono = (0.3 * np.sin(2 * np.pi * pitch * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def ffmpeg(source: Path, target: Path, *options: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), *options, str(target)], check=True)


# --- audio ---------------------------------------------------------------------------------------

def _wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE, subtype: str = "PCM_16") -> None:
    sf.write(str(path), samples, rate, subtype=subtype, format="WAV")


def _encoded(codec: list[str]) -> Callable[[Path, Path], None]:
    """A writer that encodes the reference clip with ffmpeg (mp3/ogg/opus/webm/m4a)."""
    return lambda path, reference: ffmpeg(reference, path, *codec)


def _truncated_wav(path: Path, reference: Path) -> None:
    data = reference.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])  # an odd length: cut inside a 16-bit sample


def _truncated_mp3(path: Path, reference: Path) -> None:
    full = path.with_name("full-for-truncation.mp3.tmp")
    ffmpeg(reference, full, "-f", "mp3", "-codec:a", "libmp3lame")
    path.write_bytes(full.read_bytes()[:200])  # the ID3/first frame header, no complete frame
    full.unlink()


def _wav_header_then_garbage(path: Path, reference: Path) -> None:
    # RIFF/WAVE magic, then chunks that are not fmt/data: the sniffer says wav, no decoder can read it.
    garbage = np.random.default_rng(7).bytes(3000)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(garbage)) + b"WAVE" + garbage)


def _nan_inf(path: Path, reference: Path) -> None:
    samples = tone()
    samples[100], samples[200], samples[300] = np.nan, np.inf, -np.inf
    _wav(path, samples, subtype="FLOAT")


def _over_max_duration(path: Path, reference: Path) -> None:
    # 601 s at 8 kHz, 8-bit: 4.8 MB, and refused from the header alone, before decoding.
    samples = np.tile(tone(1.0, 8000), int(LONG_SECONDS))
    _wav(path, samples, 8000, "PCM_U8")


# name -> writer(path, reference clip). The reference is a 0.5 s, 16 kHz, 16-bit mono WAV.
AUDIO_WRITERS: dict[str, Callable[[Path, Path], None]] = {
    "zero_bytes.wav": lambda p, r: p.write_bytes(b""),
    "header_only.wav": lambda p, r: _wav(p, np.zeros(0, dtype=np.float32)),
    "truncated_mid_sample.wav": _truncated_wav,
    "truncated.mp3": _truncated_mp3,
    "random_bytes.wav": lambda p, r: p.write_bytes(np.random.default_rng(0).bytes(4000)),
    "wav_header_then_garbage.wav": _wav_header_then_garbage,
    "text_file.mp3": lambda p, r: p.write_text("이것은 오디오가 아닙니다.\nJust a note.\n", encoding="utf-8"),
    "flac_named.mp3": lambda p, r: ffmpeg(r, p, "-f", "flac"),  # right content, wrong extension
    "all_zero.wav": lambda p, r: _wav(p, np.zeros(SAMPLE_RATE, dtype=np.float32)),
    "clipped.wav": lambda p, r: _wav(p, np.clip(tone() * 10, -1, 1)),
    "beyond_full_scale.wav": lambda p, r: _wav(p, tone() * 10, subtype="FLOAT"),  # float WAV may exceed ±1
    "nan_inf.wav": _nan_inf,
    "one_ms.wav": lambda p, r: _wav(p, tone(0.001)),
    "over_max_duration.wav": _over_max_duration,
    "rate_8000.wav": lambda p, r: _wav(p, tone(rate=8000), 8000),
    "rate_11025.wav": lambda p, r: _wav(p, tone(rate=11025), 11025),
    "rate_22050.wav": lambda p, r: _wav(p, tone(rate=22050), 22050),
    "rate_44100.wav": lambda p, r: _wav(p, tone(rate=44100), 44100),
    "rate_48000.wav": lambda p, r: _wav(p, tone(rate=48000), 48000),
    "stereo.wav": lambda p, r: _wav(p, tone(channels=2)),
    "pcm24.wav": lambda p, r: _wav(p, tone(), subtype="PCM_24"),
    "float32.wav": lambda p, r: _wav(p, tone(), subtype="FLOAT"),
    "clip.mp3": _encoded(["-codec:a", "libmp3lame"]),
    "clip.ogg": _encoded(["-codec:a", "libvorbis"]),
    "clip.opus": _encoded(["-codec:a", "libopus"]),
    "clip.webm": _encoded(["-codec:a", "libopus"]),
    "clip.m4a": _encoded(["-codec:a", "aac"]),
    "녹음 파일 01.m4a": _encoded(["-codec:a", "aac"]),
    "a_folder.wav": lambda p, r: p.mkdir(),
    "missing.wav": lambda p, r: None,  # never written
}


def build_audio_corpus(folder: Path) -> dict[str, Path]:
    """Write every audio case into `folder`; name -> path (the missing one included, unwritten)."""
    folder.mkdir(parents=True, exist_ok=True)
    reference = folder.parent / "reference.wav"
    _wav(reference, tone())
    paths = {}
    for name, write in AUDIO_WRITERS.items():
        write(folder / name, reference)
        paths[name] = folder / name
    return paths


# --- metadata ------------------------------------------------------------------------------------

COLUMNS = ["path", "text", "age", "gender", "accent", "speaker"]
# Control rows: enough speakers for a speaker-disjoint train/valid/test split.
GOOD_ROWS = [[f"clips/good_{i}.wav", text, age, gender, accent, f"spk{i}"] for i, (text, age, gender, accent) in enumerate([
    ("안녕하세요 반갑습니다", "20s", "female", "seoul"), ("오늘 날씨가 좋네요", "30s", "male", "gyeongsang"),
    ("지하철을 타고 갑니다", "40s", "female", "seoul"), ("점심 먹었어요", "20s", "male", "부산"),
    ("책을 읽고 있어요", "50s", "female", "전라도"), ("내일 다시 만나요", "30s", "male", "seoul"),
    ("음악을 들어요", "60대", "여", "경상도"), ("커피 한 잔 주세요", "thirties", "남", "서울"),
])]

# case -> one row of rows.csv (None for the path: use the case's own clip). Raw lines are written as they are.
ROW_CASES: dict[str, list[str] | str] = {
    "empty transcript": [None, "", "20s", "female", "seoul", "spk_a"],
    "transcript only punctuation": [None, "?!... ,,, -- ~~", "20s", "female", "seoul", "spk_a"],
    "transcript only Latin letters": [None, "KBS", "20s", "male", "seoul", "spk_a"],
    "labels unseen at training time": [None, "새로운 라벨이에요", "외계인", "기타", "화성", "spk_a"],
    "NaN labels": [None, "라벨이 비었어요", "NaN", "nan", "NaN", "spk_a"],
    "duplicate row": GOOD_ROWS[0],
    "path that does not exist": ["clips/no_such_clip.wav", "없는 파일", "20s", "male", "seoul", "spk_a"],
    "path escaping the corpus (relative)": ["../outside.wav", "바깥 파일", "20s", "male", "seoul", "spk_a"],
    "path escaping the corpus (absolute)": ["/etc/passwd", "절대 경로", "20s", "male", "seoul", "spk_a"],
    "empty path": ["", "경로가 없어요", "20s", "male", "seoul", "spk_a"],
    "row with an unquoted delimiter": "clips/extra_field.wav,쉼표가, 들어간 문장,20s,male,seoul,spk_a",
}


def _case_clip(case: str) -> str:
    return "clips/" + "".join(c if c.isalnum() else "_" for c in case.encode("ascii", "ignore").decode()) + ".wav"


def _csv_line(values: list[str]) -> str:
    return ",".join(f'"{v}"' if "," in v or '"' in v else v for v in values)


def build_row_table(root: Path, audio: dict[str, Path]) -> tuple[Path, dict[str, str]]:
    """rows.csv: the control rows, one row per ROW_CASES entry, then one row per audio case.

    Returns the table and, for every bad row, case -> the absolute path the row names (how
    rejected.csv and the manifests identify it)."""
    (root / "clips").mkdir(parents=True, exist_ok=True)
    for i in range(len(GOOD_ROWS)):
        _wav(root / "clips" / f"good_{i}.wav", tone(pitch=150 + 20 * i))
    _wav(root.parent / "outside.wav", tone())  # exists, but outside the corpus folder
    lines, named = [",".join(COLUMNS)], {}
    lines += [_csv_line(row) for row in GOOD_ROWS]
    for case, row in ROW_CASES.items():
        if isinstance(row, str):  # a raw line: its clip exists, the line itself is the fault
            _wav(root / row.split(",")[0], tone(pitch=300))
            lines.append(row)
            named[case] = ""
            continue
        path = row[0] if row[0] is not None else _case_clip(case)
        if row[0] is None:
            _wav(root / path, tone(pitch=300))
        lines.append(_csv_line([path, *row[1:]]))
        # Accepted paths are reported absolute; a path refused as unsafe is reported as written.
        named[case] = str(root / path) if path and not path.startswith(("/", "..")) else path
    for name, path in audio.items():
        relative = path.relative_to(root).as_posix()
        lines.append(_csv_line([relative, "오디오 파일 확인", "20s", "female", "seoul", "spk_audio"]))
        named[f"audio: {name}"] = str(path)
    table = root / "rows.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table, named


def _table_rows(root: Path, stem: str) -> list[list[str]]:
    """Two rows of good audio for a table-level case."""
    rows = []
    for i, text in enumerate(["첫 번째 문장입니다", "두 번째 문장이에요"]):
        clip = f"clips/{stem}_{i}.wav"
        _wav(root / clip, tone(pitch=200 + 40 * i))
        rows.append([clip, text, "20s", "female" if i else "male", "seoul", f"{stem}_{i}"])
    return rows


def _text_table(rows: list[list[str]], sep: str = ",", header: list[str] = COLUMNS, newline: str = "\n") -> str:
    return newline.join(sep.join(r) for r in [header, *rows]) + newline


# case -> (file name, writer(root) -> bytes, prepare options). Every table lives in root, so its clips resolve inside.
TABLE_CASES: dict[str, tuple[str, Callable[[Path], bytes], dict]] = {
    "missing path and text columns": ("missing_columns.csv", lambda root: _text_table(
        [["x.wav", "문장"]], header=["file_id", "words"]).encode(), {}),
    "missing text column": ("missing_text.csv", lambda root: _text_table(
        [r[:1] for r in _table_rows(root, "missing_text")], header=["path"]).encode(), {}),
    "semicolon delimiter": ("semicolon.csv", lambda root: _text_table(_table_rows(root, "semicolon"), sep=";").encode(), {}),
    "tab delimiter": ("tabs.csv", lambda root: _text_table(_table_rows(root, "tabs"), sep="\t").encode(), {}),
    "wrong --delimiter given": ("comma_read_as_tab.csv", lambda root: _text_table(
        _table_rows(root, "comma_read_as_tab")).encode(), {"delimiter": "\t"}),
    "cp949 encoding": ("cp949.csv", lambda root: _text_table(_table_rows(root, "cp949")).encode("cp949"), {}),
    "UTF-8 with BOM": ("bom.csv", lambda root: _text_table(_table_rows(root, "bom")).encode("utf-8-sig"), {}),
    "CRLF line ends": ("crlf.csv", lambda root: _text_table(_table_rows(root, "crlf"), newline="\r\n").encode(), {}),
    "neither UTF-8 nor cp949": ("undecodable.csv", lambda root: b"path,text\nx.wav,\xff\xfe\xff broken\n", {}),
    "empty file": ("empty.csv", lambda root: b"", {}),
    "header only, no rows": ("header_only.csv", lambda root: _text_table([]).encode(), {}),
}


def build_table_cases(root: Path) -> dict[str, Path]:
    """Write every table case into `root`; case -> table path."""
    (root / "clips").mkdir(parents=True, exist_ok=True)
    paths = {}
    for case, (name, write, _) in TABLE_CASES.items():
        paths[case] = root / name
        paths[case].write_bytes(write(root))
    return paths
