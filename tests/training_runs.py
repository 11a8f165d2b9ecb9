"""Run `python -m distributed.train` in a subprocess for the tests, and read what it logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from distributed.faults import FAULTS_ENV

ROOT = Path(__file__).resolve().parents[1]


def run_training(train_csv: Path, output: Path, *flags: str, valid: Path | None = None, config: dict | None = None,
                 timeout: float = 420, expect_failure: bool = False, faults: dict | None = None) -> subprocess.CompletedProcess:
    """Train the tiny preset on `train_csv` into `output`; `config` is written as the --config file,
    `faults` (`distributed.faults.FaultInjection` fields) goes to the run through its environment."""
    command = [sys.executable, "-m", "distributed.train", "--train", str(train_csv), "--output", str(output),
               "--preset", "tiny", *flags]
    if valid:
        command += ["--valid", str(valid)]
    if config:
        path = output.parent / f"{output.name}-config.json"
        path.write_text(json.dumps(config))
        command += ["--config", str(path)]
    env = {k: v for k, v in os.environ.items() if k != FAULTS_ENV}
    if faults:
        env[FAULTS_ENV] = json.dumps(faults)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    assert (result.returncode != 0) == expect_failure, result.stderr[-4000:]
    return result


def records(output: Path) -> list[dict]:
    """The run's metrics.jsonl, one dict per line."""
    return [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
