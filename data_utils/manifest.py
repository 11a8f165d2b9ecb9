"""The canonical manifest: one CSV that every corpus loader writes and everything else reads.

Columns `path,text,age,gender,accent,speaker,duration[,source]`; an empty cell means unknown.
A relative `path` resolves against the folder of the manifest file itself, so a corpus folder
moves or ships as a whole.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

HEADS = ("age", "gender", "accent")
MANIFEST_COLUMNS = ["path", "text", *HEADS, "speaker", "duration"]


def read_manifest(path, resolve_paths: bool = True) -> pd.DataFrame:
    """Read a manifest; `path` becomes absolute (resolved against the manifest's folder)."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in ("path", "text") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: manifest lacks column(s) {', '.join(missing)}")
    for column in MANIFEST_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    if resolve_paths:
        base = path.resolve().parent
        frame["path"] = [str(p) if Path(p).is_absolute() else str(base / p) for p in frame["path"]]
    frame["duration"] = pd.to_numeric(frame["duration"], errors="coerce")
    return frame


def write_manifest(frame: pd.DataFrame, path, relative_to: Path | None = None) -> Path:
    """Write the canonical columns (+ `source` if present); paths relative to `relative_to`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = MANIFEST_COLUMNS + (["source"] if "source" in frame.columns else [])
    out = frame.reindex(columns=columns).copy()
    if relative_to is not None:
        base = Path(relative_to).resolve()
        out["path"] = [_relative_if_inside(Path(p), base) for p in out["path"]]
    out["duration"] = [f"{d:.3f}" if pd.notna(d) and d != "" else "" for d in pd.to_numeric(out["duration"], errors="coerce")]
    out = out.fillna("")
    out.to_csv(path, index=False, encoding="utf-8")
    return path


def _relative_if_inside(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path.resolve())


# --- label normalisation -------------------------------------------------------------------

GENDER_ALIASES = {
    "female": "female", "f": "female", "woman": "female", "w": "female", "여": "female", "여자": "female",
    "여성": "female", "female_feminine": "female", "0": "female",
    "male": "male", "m": "male", "man": "male", "남": "male", "남자": "male", "남성": "male",
    "male_masculine": "male", "1": "male",
}

# Age groups: numeric ages are binned, bucket names mapped onto the same groups.
AGE_BINS = [(0, 20, "teens"), (20, 30, "20s"), (30, 40, "30s"), (40, 50, "40s"), (50, 60, "50s"), (60, 200, "60s+")]
AGE_BUCKETS = {
    "teens": "teens", "twenties": "20s", "thirties": "30s", "fourties": "40s", "forties": "40s",
    "fifties": "50s", "sixties": "60s+", "seventies": "60s+", "eighties": "60s+", "nineties": "60s+",
    "10대": "teens", "20대": "20s", "30대": "30s", "40대": "40s", "50대": "50s", "60대": "60s+",
    "70대": "60s+", "80대": "60s+", "청소년": "teens", "노년": "60s+",
    "60대 이상": "60s+", "60대이상": "60s+", "70대 이상": "60s+", "70대이상": "60s+",
    # Placeholders that corpora write for "not given": unknown, not a class of their own.
    "unspecified": "", "unknown": "", "n/a": "", "미상": "", "모름": "",
}

ACCENT_ALIASES = {
    "서울": "seoul", "서울말": "seoul", "표준어": "seoul", "수도권": "seoul", "경기": "seoul", "경기도": "seoul", "standard": "seoul",
    "경상": "gyeongsang", "경상도": "gyeongsang", "부산": "gyeongsang", "대구": "gyeongsang", "경남": "gyeongsang", "경북": "gyeongsang",
    "전라": "jeolla", "전라도": "jeolla", "광주": "jeolla", "전남": "jeolla", "전북": "jeolla",
    "충청": "chungcheong", "충청도": "chungcheong", "대전": "chungcheong", "충남": "chungcheong", "충북": "chungcheong",
    "강원": "gangwon", "강원도": "gangwon", "제주": "jeju", "제주도": "jeju",
    "인천": "seoul", "울산": "gyeongsang", "세종": "chungcheong",
    # Romanised region names (Common Voice writes "Seoul"), also as `dialect:<region>` (emotiontts table).
    "Seoul": "seoul", "seoul": "seoul", "gyeongsang": "gyeongsang", "jeolla": "jeolla", "chungcheong": "chungcheong",
    "gangwon": "gangwon", "jeju": "jeju", "dialect:gyeongsang": "gyeongsang", "dialect:jeolla": "jeolla",
    "dialect:chungcheong": "chungcheong", "dialect:gangwon": "gangwon", "dialect:jeju": "jeju",
}


def normalize_gender(value) -> str:
    key = str(value).strip().lower() if value is not None else ""
    return GENDER_ALIASES.get(key, "") if key not in ("", "nan", "none") else ""


def normalize_age(value) -> str:
    """37 -> '30s'; 'thirties' -> '30s'; '20-40s' or any unknown text kept as written (lowercase)."""
    text = str(value).strip().lower() if value is not None else ""
    if text in ("", "nan", "none"):
        return ""
    if text in AGE_BUCKETS:
        return AGE_BUCKETS[text]
    if re.fullmatch(r"\d+(\.\d+)?", text):
        age = float(text)
        return next(label for low, high, label in AGE_BINS if low <= age < high)
    return text


def normalize_accent(value) -> str:
    text = str(value).strip() if value is not None else ""
    if text.lower() in ("", "nan", "none"):
        return ""
    for alias, region in ACCENT_ALIASES.items():
        if text.startswith(alias):
            return region
    return text.lower()


def normalize_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["gender"] = [normalize_gender(v) for v in frame["gender"]]
    frame["age"] = [normalize_age(v) for v in frame["age"]]
    frame["accent"] = [normalize_accent(v) for v in frame["accent"]]
    return frame
