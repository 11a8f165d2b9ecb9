"""Why a recording failed, worded for the person who uploaded it.

`load_audio` reasons can carry ffmpeg's whole report (its build banner and the temporary server
path of the upload): the page shows the first line and the final complaint only, with the
server path replaced by the file's own name.
"""

from __future__ import annotations

MAX_CHARS = 240


def public_reason(reason: str, server_path: str, shown_name: str) -> str:
    text = reason.replace(str(server_path), shown_name)
    lines = [line.strip() for line in text.splitlines() if line.strip(" )")]
    if len(lines) > 2:
        last = lines[-1].removeprefix(f"{shown_name}:").strip()
        lines = [lines[0], f"… {last})"]
    short = " ".join(lines)
    return short if len(short) <= MAX_CHARS else short[: MAX_CHARS - 1] + "…"
