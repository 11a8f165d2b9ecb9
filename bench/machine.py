"""The machine the figures come from: what it is, how busy it was, how long things took (wall and
CPU), the memory a command peaked at, and its practical compute bound (the matmul peak).

On a shared machine wall time and memory vary with other work; the benches report CPU time and
load averages beside them so that a reader can tell.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.paths import PROJECT_ROOT


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def machine_info(threads: int) -> dict:
    """What the figures were measured on; load average shows how busy the machine was."""
    import torch
    import transformers

    flags = cpu_flags()
    simd = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "no avx2"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench." + Path(sys.argv[0]).stem, *sys.argv[1:]]),
        "cpu": cpu_model(), "cores": os.cpu_count(), "simd": simd,
        "bf16_native": "avx512_bf16" in flags or "amx_bf16" in flags,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "torch_threads": threads, "torch": torch.__version__, "transformers": transformers.__version__,
        "python": platform.python_version(), "niceness": os.nice(0),
    }


def load_note(start: list[float]) -> dict:
    """Load averages before and after: the benches share the machine with other work."""
    return {"load_average_at_start": start, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


# --- time ------------------------------------------------------------------------------------------

def timed(function: Callable, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (ffmpeg, say)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_cpu(function: Callable, *args, **kwargs) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds). On a shared machine CPU time varies less than wall
    time, because time spent waiting for a core is not counted."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start, cpu_seconds() - start_cpu


# --- memory ----------------------------------------------------------------------------------------

def peak_rss(command: list[str], timeout: float | None = 900) -> tuple[subprocess.CompletedProcess, int]:
    """Run `command` from the project root, sampling its resident memory every 50 ms; (result,
    peak bytes). Sampled from outside so that each command's peak is its own: RUSAGE_CHILDREN's
    ru_maxrss is the largest of all children so far. Its own children (ffmpeg) are not counted."""
    import psutil

    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, peak = psutil.Process(process.pid), [0]

    def sample():
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, stderr = process.communicate(timeout=timeout)
    sampler.join()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), peak[0]


# --- the compute bound -----------------------------------------------------------------------------

def matmul_gflops(threads: int, size: int = 1024, seconds: float = 1.0, device: str = "cpu", dtype=None) -> float:
    """Best matmul rate over repeated (size x size) @ (size x size) products, in GFLOP/s, with
    `threads` intra-op threads: the machine's practical compute bound for these models."""
    import torch

    dtype = dtype or torch.float32
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        torch.mm(a, b)  # first call allocates and picks a kernel
        sync()
        best, deadline = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            torch.mm(a, b)
            sync()
            best = max(best, 2.0 * size**3 / (time.perf_counter() - start) / 1e9)
        return best
    finally:
        torch.set_num_threads(previous)
