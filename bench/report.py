"""What the benches hand back: side-by-side Markdown tables, a JSON file, progress lines, and the
paired ratios that compare contenders round by round.

Benches are scripts, not tests: they print a side-by-side table and write a JSON file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round i's ratio, for each i. Round i of every contender runs back to back (the benches
    alternate their order), so each ratio sees one phase of a machine whose speed drifts."""
    return [n / d for n, d in zip(numerators, denominators)]


def format_value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows side by side as a Markdown table (pastes straight into RESULTS.md)."""
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def print_table(title: str, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    print(f"\n## {title}\n\n{format_table(rows, columns)}\n", flush=True)


def write_json(path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return path


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
