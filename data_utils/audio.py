"""Audio loading: anything users upload -> 16 kHz mono float32.

The format is decided from the file's content, not its name: soundfile (libsndfile) reads
wav/flac/ogg/mp3 directly and soxr resamples; containers libsndfile cannot open (m4a, aac,
webm, opus in some builds) are decoded by one ffmpeg call; headerless KsponSpeech `.pcm` is raw
16 kHz signed 16-bit little-endian. Every failure is one exception, `AudioError`, naming
the file and the reason.
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
DEFAULT_MAX_SECONDS = 600.0
# What a folder of recordings is searched for (prepare --source folder, model.predict DIR, the app).
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".webm", ".m4a", ".aac", ".mp4", ".pcm", ".aiff", ".aif",
                  ".wma")
SILENCE_PEAK = 1e-4  # below -80 dBFS everywhere: nothing was recorded


class AudioError(ValueError):
    """A file that cannot be used as speech, with the reason."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class AudioTooLong(AudioError):
    """A file over the length limit (`seconds` is its length as far as it was read)."""

    def __init__(self, path, seconds: float, limit: float):
        self.seconds, self.limit = seconds, limit
        super().__init__(path, f"too long: {seconds:.1f} s (limit {limit:.0f} s)")


@dataclass
class AudioInfo:
    duration: float  # seconds
    sample_rate: int
    channels: int


def sniff_format(head: bytes) -> str | None:
    """The container a file's first bytes announce, or None for headerless/unknown data."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return "mp3"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] in (b"FORM", b"caff"):
        return "aiff"
    return None


class _TooLong(Exception):
    def __init__(self, seconds: float):
        self.seconds = seconds


def _decode_soundfile(data: bytes, max_seconds: float | None) -> tuple[np.ndarray, int]:
    with sf.SoundFile(io.BytesIO(data)) as f:
        # The header tells the length: refuse an over-long file before decoding all of it.
        if max_seconds is not None and f.frames > 0 and f.frames / f.samplerate > max_seconds:
            raise _TooLong(f.frames / f.samplerate)
        audio = f.read(dtype="float32", always_2d=True)
        return audio, f.samplerate


_DURATION = re.compile(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def _decode_ffmpeg(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Containers libsndfile cannot open (m4a, aac, webm, opus): one ffmpeg call decodes the
    audio to float32 WAV on a pipe at the file's own rate and channels, so downmixing and
    resampling stay the same as for every other format. With a limit, it decodes at most a
    second past it, and the container's duration in ffmpeg's log refuses an over-long file.
    (pydub's AudioSegment ran ffprobe twice, ffmpeg and a temporary 16-bit WAV: bench/RESULTS.md.)"""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-v", "info", "-i", str(path), "-vn",
               "-f", "wav", "-c:a", "pcm_f32le"]
    if max_seconds is not None:
        command += ["-t", f"{max_seconds + 1:g}"]
    result = subprocess.run([*command, "-"], capture_output=True)
    if max_seconds is not None and (found := _DURATION.search(result.stderr)):
        hours, minutes, seconds = found.groups()
        if (duration := int(hours) * 3600 + int(minutes) * 60 + float(seconds)) > max_seconds:
            raise _TooLong(duration)
    if result.returncode != 0 or not result.stdout:
        raise RuntimeError(result.stderr.decode("utf-8", errors="replace") or f"ffmpeg exited with {result.returncode}")
    with sf.SoundFile(io.BytesIO(result.stdout)) as f:
        return f.read(dtype="float32", always_2d=True), f.samplerate


def _last_line(message: str) -> str:
    """ffmpeg's complaint without its banner: the last non-empty line, shortened."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown error")[:200]


def to_mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Samples (frames, or frames x channels) at `sample_rate` as 16 kHz mono float32: channels
    averaged, soxr's HQ resampler."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return mono


def load_audio(path, max_seconds: float | None = DEFAULT_MAX_SECONDS, allow_silence: bool = False) -> np.ndarray:
    """Load `path` as 16 kHz mono float32 in [-1, 1]; raise `AudioError` with the reason."""
    path = Path(path)
    if max_seconds is not None:  # an over-long file with a header is refused before it is read
        try:
            info = sf.info(str(path))
        except Exception:
            info = None
        if info is not None and info.frames > 0 and info.frames / info.samplerate > max_seconds:
            raise AudioTooLong(path, info.frames / info.samplerate, max_seconds)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except IsADirectoryError:
        raise AudioError(path, "is a directory, not an audio file") from None
    except OSError as error:
        raise AudioError(path, f"cannot read file ({error.strerror})") from None
    if not data:
        raise AudioError(path, "empty file (0 bytes)")

    kind = sniff_format(data[:16])
    audio, sample_rate = None, SAMPLE_RATE
    try:
        if kind in ("wav", "flac", "ogg", "mp3", "aiff"):
            try:
                audio, sample_rate = _decode_soundfile(data, max_seconds)
            except _TooLong:
                raise
            except Exception:
                audio = None  # e.g. opus-in-ogg on an older libsndfile: ffmpeg below
        if audio is None and kind is not None:
            audio, sample_rate = _decode_ffmpeg(path, max_seconds)
    except _TooLong as long:
        raise AudioTooLong(path, long.seconds, max_seconds) from None
    except FileNotFoundError as error:
        if "ffmpeg" in str(error) or "ffprobe" in str(error):
            raise AudioError(path, "ffmpeg is not installed; it is needed for this format") from None
        raise AudioError(path, "file not found") from None
    except Exception as error:
        raise AudioError(path, f"cannot decode {kind} data ({_last_line(str(error))})") from None
    if audio is None:
        if path.suffix.lower() == ".pcm":  # KsponSpeech: headerless 16 kHz s16le
            if len(data) % 2:
                data = data[:-1]
            audio = (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).reshape(-1, 1)
        else:
            raise AudioError(path, "not a recognised audio format (content matches no known header)")

    if audio.size == 0:
        raise AudioError(path, "no audio samples (header only or truncated)")
    if not np.isfinite(audio).all():
        raise AudioError(path, "contains NaN or infinite samples")
    samples = to_mono_16k(audio, sample_rate)
    duration = len(samples) / SAMPLE_RATE
    if max_seconds is not None and duration > max_seconds:
        raise AudioTooLong(path, duration, max_seconds)
    if not allow_silence and float(np.abs(samples).max(initial=0.0)) < SILENCE_PEAK:
        raise AudioError(path, "silent: no signal above -80 dBFS")
    return np.clip(samples, -1.0, 1.0)


def audio_info(path, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> AudioInfo:
    """Duration and format from the header when soundfile can read it (no decoding). Other
    containers (m4a, webm, aac: a browser's recording often has no duration in its header) are
    decoded, but never past `max_seconds`: a longer one raises `AudioError` "too long" after at
    most that much audio was in memory (unbounded, a 0.8 MB 15-minute webm took 331 MB)."""
    path = Path(path)
    try:
        info = sf.info(str(path))
        if info.frames > 0:
            return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels)
    except Exception:
        pass
    samples = load_audio(path, max_seconds=max_seconds, allow_silence=True)
    return AudioInfo(len(samples) / SAMPLE_RATE, SAMPLE_RATE, 1)


def write_wav(path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    sf.write(str(path), samples, sample_rate, subtype="PCM_16")
