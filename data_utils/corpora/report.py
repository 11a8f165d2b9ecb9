"""The row report of a `prepare` run: `report.json` (counts, split, notes) and `rejected.csv`
(one line per rejected row: path, reason, detail), so that nothing is dropped silently."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from data_utils.corpora.common import Rejection

REJECTED_COLUMNS = ["path", "reason", "detail"]


def reason_counts(rejected: list[Rejection]) -> dict[str, int]:
    """Rejections per reason, most frequent first."""
    counts = Counter(r.reason for r in rejected)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def write_rejected(path: Path, rejected: list[Rejection]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=REJECTED_COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rejected)
    return path


def write_report(out_dir: Path, summary: dict, rejected: list[Rejection]) -> tuple[Path, Path]:
    """`summary` (JSON-able) goes to report.json with the counts per reason; rows to rejected.csv."""
    out_dir = Path(out_dir)
    rejected_path = write_rejected(out_dir / "rejected.csv", rejected)
    report = {**summary, "rejected": reason_counts(rejected), "rejected_rows": rejected_path.name}
    report_path = out_dir / "report.json"
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report_path, rejected_path
