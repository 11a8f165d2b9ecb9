"""Subtitles from timed words: cues split at pauses and at a maximum length, as SRT or WebVTT.

A cue ends where the speaker pauses (`pause_seconds` between two words), or before it would
grow past `max_chars` characters or `max_seconds`, the limits subtitle guides use for one
or two lines (42 characters a line is the common rule; Korean subtitles run shorter).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Cue:
    start: float
    end: float
    text: str


def make_cues(words, pause_seconds: float = 0.6, max_chars: int = 32, max_seconds: float = 6.0) -> list[Cue]:
    """`words`: objects with `text`, `start`, `end` (seconds), in time order."""
    cues: list[Cue] = []
    current: list = []
    for word in words:
        if current:
            text = " ".join(w.text for w in current + [word])
            if (word.start - current[-1].end >= pause_seconds or len(text) > max_chars
                    or word.end - current[0].start > max_seconds):
                cues.append(Cue(current[0].start, current[-1].end, " ".join(w.text for w in current)))
                current = []
        current.append(word)
    if current:
        cues.append(Cue(current[0].start, current[-1].end, " ".join(w.text for w in current)))
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [f"{i}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n{c.text}\n" for i, c in enumerate(cues, start=1)]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    blocks = [f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


SUBTITLE_FORMATS = {"srt": to_srt, "vtt": to_vtt}
