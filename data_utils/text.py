"""One configurable Korean transcript normaliser.

Every corpus goes through the same rules so that the model's targets are consistent:
Unicode normalisation, BOM/CRLF, KsponSpeech transcription conventions, punctuation and
whitespace, and a policy for Latin letters and digits. `normalize` returns `None` when the
policy says to drop the utterance (so callers can report it), never raises on odd text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

# --- Sino-Korean numbers --------------------------------------------------------------------

_DIGITS = "영일이삼사오육칠팔구"
_SMALL_UNITS = ["", "십", "백", "천"]
_BIG_UNITS = ["", "만", "억", "조", "경"]


def _read_under_10000(n: int) -> str:
    out = []
    for power in (3, 2, 1, 0):
        digit = n // 10**power % 10
        if digit == 0:
            continue
        # 일 is silent before 십/백/천: 십, 백, 천 (not 일십).
        out.append(("" if digit == 1 and power > 0 else _DIGITS[digit]) + _SMALL_UNITS[power])
    return "".join(out)


def read_sino_korean(number: str) -> str:
    """'2024' -> '이천이십사', '3.5' -> '삼 점 오', '10000' -> '만', '0' -> '영'."""
    number = number.replace(",", "")
    integer, _, fraction = number.partition(".")
    integer = integer.lstrip("0")
    if not integer:
        words = "영"
    elif len(integer) > 4 * len(_BIG_UNITS):  # beyond 경: read digit by digit
        words = "".join(_DIGITS[int(d)] for d in integer)
    else:
        value, groups, position = int(integer), [], 0
        while value:
            group = value % 10000
            if group:
                # 만 alone at the front, not 일만.
                text = "" if group == 1 and position == 1 and value < 10000 else _read_under_10000(group)
                groups.append(text + _BIG_UNITS[position])
            value //= 10000
            position += 1
        words = "".join(reversed(groups))
    if fraction:
        words += " 점 " + "".join(_DIGITS[int(d)] for d in fraction)
    return words


# English letter names as Koreans say them (KBS -> 케이비에스).
_LETTER_NAMES = dict(zip(
    "abcdefghijklmnopqrstuvwxyz",
    ["에이", "비", "씨", "디", "이", "에프", "지", "에이치", "아이", "제이", "케이", "엘", "엠", "엔",
     "오", "피", "큐", "알", "에스", "티", "유", "브이", "더블유", "엑스", "와이", "제트"],
))

# --- KsponSpeech conventions ----------------------------------------------------------------

_KSPON_NOISE = re.compile(r"(?<!\S)[blonu]/(?!\S)")  # b/ breath, l/ laugh, o/ other, n/ noise, u/ unintelligible
_KSPON_DUAL = re.compile(r"\(([^()]*)\)\s*/\s*\(([^()]*)\)")  # (spelling)/(pronunciation)
_KSPON_FILLER = re.compile(r"(\S+?)/(?=\s|$)")  # 어/ 음/ : fillers end with a slash
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_LATIN = re.compile(r"[A-Za-z]")
_HANGUL_OR_SPACE = re.compile(r"[^\s\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e]")
_LATIN_DIGIT_KEPT = re.compile(r"[^\s\uac00-\ud7a3\u1100-\u11ff\u3131-\u318eA-Za-z0-9.]")


@dataclass
class TextNormalizerConfig:
    unicode_form: Literal["NFC", "NFKC"] = "NFKC"
    kspon_dual: Literal["pronunciation", "spelling"] = "pronunciation"  # which of (a)/(b) to keep
    kspon_fillers: Literal["keep", "drop"] = "keep"  # 어/ -> 어, or removed
    latin_digits: Literal["keep", "drop", "read"] = "read"  # read: 2024년 -> 이천이십사년, KBS -> 케이비에스
    lowercase_latin: bool = True


class TextNormalizer:
    def __init__(self, config: TextNormalizerConfig | None = None, **overrides):
        self.config = config or TextNormalizerConfig(**overrides)

    def __call__(self, text: str) -> str | None:
        return self.normalize(text)

    def normalize(self, text: str) -> str | None:
        """Clean one transcript. `None` means: drop this utterance under the current policy."""
        config = self.config
        if text is None:
            return None
        text = str(text).replace("\ufeff", "").replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
        text = unicodedata.normalize(config.unicode_form, text)
        text = self._kspon(text)
        text = text.replace("%", " 퍼센트 ")
        has_latin_or_digit = bool(_LATIN.search(text) or re.search(r"\d", text))
        if has_latin_or_digit:
            if config.latin_digits == "drop":
                return None
            if config.latin_digits == "read":
                text = _NUMBER.sub(lambda m: read_sino_korean(m.group()), text)
                text = _LATIN.sub(lambda m: _LETTER_NAMES[m.group().lower()], text)
        if config.latin_digits == "keep":
            text = _LATIN_DIGIT_KEPT.sub(" ", text)
            text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # a dot survives only inside numbers
            if config.lowercase_latin:
                text = text.lower()
        else:
            text = _HANGUL_OR_SPACE.sub(" ", text)
        # Normalised again: dropping a mark or reading a number out can put jamo side by side that
        # compose (ᄀ*ᅡ -> 가, 2ᆨ -> 익), and the result must be a fixed point.
        return unicodedata.normalize(config.unicode_form, " ".join(text.split()))

    def _kspon(self, text: str) -> str:
        config = self.config
        keep = 2 if config.kspon_dual == "pronunciation" else 1
        text = _KSPON_DUAL.sub(lambda m: m.group(keep), text)
        text = _KSPON_NOISE.sub(" ", text)
        if config.kspon_fillers == "drop":
            text = _KSPON_FILLER.sub(" ", text)
        else:
            text = _KSPON_FILLER.sub(r"\1", text)
        # `+` marks a repeated (stuttered) word and `*` an unclear one: keep the word, drop the mark.
        return text.replace("+", " ").replace("*", "")


def normalize(text: str, **overrides) -> str | None:
    """Normalise with the default rules (or the given overrides of `TextNormalizerConfig`)."""
    return TextNormalizer(**overrides).normalize(text)
