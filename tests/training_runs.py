"""Run `python -m distributed.train` in a subprocess for the tests, and read what it logged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_training(train_csv: Path, output: Path, *flags: str, valid: Path | None = None, config: dict | None = None,
                 timeout: float = 420, expect_failure: bool = False) -> subprocess.CompletedProcess:
    """Train the tiny preset on `train_csv` into `output`; `config` is written as the --config file."""
    command = [sys.executable, "-m", "distributed.train", "--train", str(train_csv), "--output", str(output),
               "--preset", "tiny", *flags]
    if valid:
        command += ["--valid", str(valid)]
    if config:
        path = output.parent / f"{output.name}-config.json"
        path.write_text(json.dumps(config))
        command += ["--config", str(path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert (result.returncode != 0) == expect_failure, result.stderr[-4000:]
    return result


def records(output: Path) -> list[dict]:
    """The run's metrics.jsonl, one dict per line."""
    return [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
