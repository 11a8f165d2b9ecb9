"""Load test of the hosted app: 10 gradio_client users send 50 transcriptions each, on loopback.

Every answer must be the one that clip gets when sent alone (no cross-talk between concurrent
requests), no request may fail, and the server's resident memory must stop growing once it is
warm. The latency figures are printed and written to `$LOAD_REPORT` (default: the test's tmp
folder), not asserted: speed belongs in bench/.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from tests.app_server import EXAMPLES, model_dir_or_skip, running_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

CLIENTS = 10
REQUESTS_PER_CLIENT = 50
# Memory may grow while the first requests warm up caches and allocator pools; after that a
# leak of even 100 KB per request would show as 45 MB over the remaining 450 requests.
WARM_UP_REQUESTS = 50
MAX_GROWTH_AFTER_WARM_UP_MB = 64.0


class MemorySampler(threading.Thread):
    """Resident memory of the server process, sampled every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[tuple[int, float]] = []  # (requests done, RSS in MB)
        self.requests_done = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.samples.append((self.requests_done, self.process.memory_info().rss / 2**20))


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def test_ten_clients_fifty_requests_each(tmp_path):
    from gradio_client import Client, handle_file

    clips = sorted(EXAMPLES.glob("*.wav"))
    assert len(clips) >= 3
    with running_app(model_dir_or_skip(), tmp_path) as (url, pid):
        alone = {clip: Client(url, verbose=False).predict(handle_file(str(clip)), api_name="/transcribe") for clip in clips}
        sampler = MemorySampler(pid)
        sampler.start()
        lock = threading.Lock()

        def user(index: int) -> list[tuple[Path, float, object]]:
            client = Client(url, verbose=False)
            answers = []
            for request in range(REQUESTS_PER_CLIENT):
                clip = clips[(index + request) % len(clips)]  # users are out of step with each other
                start = time.perf_counter()
                try:
                    answer = client.predict(handle_file(str(clip)), api_name="/transcribe")
                except Exception as error:  # recorded, asserted on below with the others
                    answer = error
                answers.append((clip, time.perf_counter() - start, answer))
                with lock:
                    sampler.requests_done += 1
            return answers

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = [a for user_answers in pool.map(user, range(CLIENTS)) for a in user_answers]
        wall_s = time.perf_counter() - started
        sampler.stopped.set()
        sampler.join()

    failures = [(clip.name, repr(answer)) for clip, _, answer in answers if isinstance(answer, Exception)]
    crossed = [clip.name for clip, _, answer in answers
               if not isinstance(answer, Exception) and (answer[0], answer[1], answer[-2]) != (alone[clip][0], alone[clip][1], alone[clip][-2])]
    latencies = [seconds for _, seconds, answer in answers if not isinstance(answer, Exception)]
    warm = [rss for done, rss in sampler.samples if done >= WARM_UP_REQUESTS]
    report = {
        "clients": CLIENTS, "requests": len(answers), "failures": len(failures), "cross_talk": len(crossed),
        "wall_s": round(wall_s, 1), "requests_per_s": round(len(answers) / wall_s, 2),
        "latency_median_s": round(statistics.median(latencies), 3), "latency_p95_s": round(_percentile(latencies, 95), 3),
        "latency_max_s": round(max(latencies), 3),
        "rss_start_mb": round(sampler.samples[0][1], 1), "rss_after_warm_up_mb": round(warm[0], 1),
        "rss_peak_mb": round(max(rss for _, rss in sampler.samples), 1), "rss_end_mb": round(sampler.samples[-1][1], 1),
    }
    print("\nload test:", json.dumps(report))
    Path(os.environ.get("LOAD_REPORT", tmp_path / "load.json")).write_text(json.dumps(report, indent=2))

    assert not failures, failures[:5]
    assert not crossed, crossed[:5]
    assert max(warm) - warm[0] <= MAX_GROWTH_AFTER_WARM_UP_MB, report
