"""Start `app.py` in a subprocess on a free loopback port for the app and browser tests.

`shared_app` starts one app per test session (the API and the browser tests use the same one:
starting it costs tens of seconds on a busy machine) and stops it when the session ends.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = ROOT / "demo" / "model"
EXAMPLES = ROOT / "demo" / "examples"
START_TIMEOUT_S = 180.0


def model_dir_or_skip() -> Path:
    """The bundled demo model, else $KOREAN_SPEECH_MODEL (a local folder); skip without one."""
    if (BUNDLED_MODEL / "model.safetensors").is_file():
        return BUNDLED_MODEL
    configured = os.environ.get("KOREAN_SPEECH_MODEL")
    if configured and Path(configured).is_dir():
        return Path(configured)
    pytest.skip(f"no model to serve: {BUNDLED_MODEL} is absent and KOREAN_SPEECH_MODEL names no local folder")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_app(model: Path, workdir: Path, *args: str) -> Iterator[tuple[str, int]]:
    """Yield (URL, server PID) of a running app; its log is `workdir/app.log` (shown if it fails to start)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(workdir / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
           "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    log_path = workdir / "app.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py", "--model", str(model), *args],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app did not start (exit {process.poll()}):\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Small limits, so that refusals can be tested with small files.
SHARED_ARGS = ("--max-seconds", "8", "--window-seconds", "4", "--max-batch-files", "6", "--max-file-size", "1mb")
_shared: dict[str, object] = {}


def make_runs_dir(root: Path) -> Path:
    """A runs folder with one short run, `exp1`, for the Training tab."""
    records = [{"step": s, "time": s * 2.0, "loss_ctc": 5.0 / s, "lr_encoder": 1e-3} for s in range(10, 110, 10)]
    records += [{"step": 100, "eval_cer": 0.4, "eval_wer": 0.8}]
    (root / "exp1").mkdir(parents=True)
    (root / "exp1" / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    return root


def shared_app_pid() -> int:
    """The process id of the session's app (after `shared_app`)."""
    return _shared["pid"]


def shared_app(tmp_path_factory) -> tuple[str, Path]:
    """(URL, runs folder) of the session's app, started on first use."""
    if "url" not in _shared:
        model = model_dir_or_skip()
        workdir = tmp_path_factory.mktemp("app")
        runs = make_runs_dir(workdir / "runs")
        context = running_app(model, workdir, "--runs-dir", str(runs), *SHARED_ARGS)
        (_shared["url"], _shared["pid"]), _shared["runs"] = context.__enter__(), runs
        atexit.register(context.__exit__, None, None, None)
    return _shared["url"], _shared["runs"]
