"""Fuzzing the two functions every upload and every transcript goes through.

`load_audio` gets random bytes, real headers followed by garbage, and real files cut at random
points or with bytes overwritten: it returns 16 kHz mono float32 in [-1, 1] or raises
`AudioError` (one line, naming the file); any other exception is a bug.
`TextNormalizer` gets random text mixing Hangul, jamo, digits, Latin, punctuation, odd
whitespace and KsponSpeech markers: it never raises, returns None only under the "drop"
policy, and returns clean text (allowed characters, single spaces) that is a fixed point.
"""

from __future__ import annotations

import io
import itertools
import re
import string
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from data_utils.audio import AudioError, load_audio
from data_utils.text import TextNormalizer
from tests.bad_inputs import tone

# Modest budgets: each audio example may start ffmpeg, and the machine is shared.
# No example database: nothing is written into the repository.
AUDIO_SETTINGS = settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
TEXT_SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# --- load_audio --------------------------------------------------------------------------------


def encoded(format: str, subtype: str | None = None, seconds: float = 0.3) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds), 16000, format=format, subtype=subtype)
    return buffer.getvalue()


# Real files, made once; the fuzzer cuts and corrupts them.
REAL_FILES = {
    "wav": encoded("WAV", "PCM_16"), "wav-float": encoded("WAV", "FLOAT"), "flac": encoded("FLAC"),
    "ogg": encoded("OGG", "VORBIS"), "mp3": encoded("MP3"), "aiff": encoded("AIFF"),
    "long-wav": encoded("WAV", "PCM_16", seconds=2.0),  # over the 1 s limit some examples use
}
# What each container's first bytes look like (data_utils.audio.sniff_format), real or magic only.
HEADERS = [REAL_FILES[k][:44] for k in ("wav", "wav-float", "flac", "aiff")] + [
    b"RIFF\xff\xff\xff\xffWAVE", b"fLaC", b"OggS\x00\x02", b"ID3\x03\x00\x00\x00\x00\x00\x0f", b"\xff\xfb\x90\x64",
    b"\xff\xf1\x50\x80", b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", b"FORM\x00\x00\x00\x00AIFF",
]
SUFFIXES = [".wav", ".WAV", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".webm", ".pcm", ".PCM", ".txt", ""]
_names = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_load(folder: Path, data: bytes, suffix: str, max_seconds: float | None) -> None:
    """The contract: a clean 16 kHz mono float32 array, or AudioError with a one-line reason."""
    path = folder / f"case{next(_names)}{suffix}"
    path.write_bytes(data)
    try:
        audio = load_audio(path, max_seconds=max_seconds)
    except AudioError as error:
        assert error.path == str(path)
        assert error.reason and "\n" not in error.reason and len(error.reason) < 400
    else:
        assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
        assert len(audio) > 0 and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
        if max_seconds is not None:
            assert len(audio) / 16000 <= max_seconds
    finally:
        path.unlink()


max_seconds = st.sampled_from([600.0, 1.0, None])
# On garbage, soundfile's seek callback raises inside cffi, which reports it as "unraisable" and
# returns an error to libsndfile; load_audio then raises AudioError. The noise is not the contract.
quiet_soundfile = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@quiet_soundfile
@AUDIO_SETTINGS
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES), limit=max_seconds)
def test_random_bytes_load_or_raise_audio_error(scratch, data, suffix, limit):
    check_load(scratch, data, suffix, limit)


@quiet_soundfile
@AUDIO_SETTINGS
@given(header=st.sampled_from(HEADERS), garbage=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES),
       limit=max_seconds)
def test_real_header_then_garbage_loads_or_raises_audio_error(scratch, header, garbage, suffix, limit):
    check_load(scratch, header + garbage, suffix, limit)


@quiet_soundfile
@AUDIO_SETTINGS
# Always with a limit: a flipped sample-rate byte can make 2 s of data claim hours, and without
# a limit load_audio would faithfully resample all of it (slow, gigabytes), which is not a bug.
@given(kind=st.sampled_from(sorted(REAL_FILES)), cut=st.floats(0.0, 1.0), flips=st.lists(
    st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=6), suffix=st.sampled_from(SUFFIXES),
       limit=st.sampled_from([600.0, 1.0]))
def test_cut_or_corrupted_real_files_load_or_raise_audio_error(scratch, kind, cut, flips, suffix, limit):
    data = bytearray(REAL_FILES[kind][: int(len(REAL_FILES[kind]) * cut)])
    for where, value in flips:  # overwrite bytes anywhere, headers included
        if data:
            data[min(int(where * len(data)), len(data) - 1)] = value
    check_load(scratch, bytes(data), suffix, limit)


# --- the text normaliser ----------------------------------------------------------------------

HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
JAMO = st.one_of(st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),  # conjoining
                 st.characters(min_codepoint=0x3131, max_codepoint=0x318E))  # compatibility (ㅋㅋ)
DIGITS = st.sampled_from("0123456789０１２٣३")  # fullwidth and other scripts' digits too
LATIN = st.sampled_from(string.ascii_letters + "éßＫﬁ")
PUNCTUATION = st.sampled_from(list(".,?!;:'\"()[]{}<>-~…·“”‘’%/+*#@&_=|\\`。、"))
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\r", "\u3000", "\xa0", "\ufeff", "\u200b", "\x1c"])
KSPON_MARKS = st.sampled_from(["b/", "l/", "o/", "n/", "u/", "(3)/(삼)", "(A)/(에이)", "(그래)/(그래서)", "(1.5)/(일 점 오)",
                               "어/", "음/", " + ", "*", "/", "(", ")", "%"])
PIECES = st.one_of(HANGUL, HANGUL, JAMO, DIGITS, LATIN, PUNCTUATION, SPACES, KSPON_MARKS, st.characters())
TEXTS = st.lists(PIECES, max_size=40).map("".join)

HANGUL_OUT = "\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e"  # syllables and jamo: the codec encodes lone jamo too
ALLOWED = {"read": re.compile(f"[{HANGUL_OUT} ]*"), "drop": re.compile(f"[{HANGUL_OUT} ]*"),
           "keep": re.compile(f"[{HANGUL_OUT} a-z0-9.]*")}


@TEXT_SETTINGS
# Substitutions that join jamo into a syllable only NFKC would compose: a number read out before
# a final consonant (2ᆨ -> 익), a `*` or a dual transcription between an initial and a vowel.
@example("2ᆨ", "read", "NFKC", "pronunciation", "keep")
@example("ᄀ*ᅡ", "keep", "NFC", "pronunciation", "keep")
@example("ᄀ(ᄂ)/(ᅡ)", "drop", "NFKC", "pronunciation", "drop")
@given(text=TEXTS, latin_digits=st.sampled_from(["read", "keep", "drop"]), unicode_form=st.sampled_from(["NFKC", "NFC"]),
       kspon_dual=st.sampled_from(["pronunciation", "spelling"]), kspon_fillers=st.sampled_from(["keep", "drop"]))
def test_normaliser_returns_clean_text_that_is_a_fixed_point(text, latin_digits, unicode_form, kspon_dual, kspon_fillers):
    normalizer = TextNormalizer(latin_digits=latin_digits, unicode_form=unicode_form, kspon_dual=kspon_dual,
                                kspon_fillers=kspon_fillers)
    result = normalizer(text)
    if result is None:
        assert latin_digits == "drop"  # None is only the drop policy's answer
        return
    assert isinstance(result, str)
    assert ALLOWED[latin_digits].fullmatch(result), repr(result)
    assert "  " not in result and result == result.strip()
    if latin_digits == "keep":
        assert re.search(r"(?<!\d)\.|\.(?!\d)", result) is None  # a dot survives only inside a number
    assert normalizer(result) == result  # normalising twice = once

