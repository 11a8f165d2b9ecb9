"""Live mode latency: how long after a person stops speaking their words are on screen.

    python -m bench.live [--model demo/model] [--data data/real/test.csv] [--clips 10] [--chunk 0.5]

Each clip, followed by 1.5 s of silence, is fed to `model.live.LiveTranscriber` in chunks as a
browser sends them, at real time's pace in audio terms (the clock here is the CPU's: nothing
sleeps). Per clip: the commit latency, i.e. the audio between the end of the speech and the chunk
whose feed commits the piece holding it, plus that feed's processing time; and every feed's processing time (a
feed that takes longer than a chunk's duration falls behind the microphone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bench.machine import machine_info
from bench.paths import RESULTS_DIR
from bench.report import print_table, write_json
from data_utils.audio import SAMPLE_RATE, load_audio
from data_utils.manifest import read_manifest
from model.live import LiveTranscriber
from model.predict import Predictor


def measure(predictor: Predictor, clip: np.ndarray, chunk_seconds: float) -> dict:
    live = LiveTranscriber(predictor)
    audio = np.concatenate([clip, np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)])
    step, feeds, committed_at = int(chunk_seconds * SAMPLE_RATE), [], None
    spans = live.voiced(clip)
    voiced_end = spans[-1][1] if spans else len(clip)
    for start in range(0, len(audio), step):
        began = time.perf_counter()
        transcript = live.feed(audio[start:start + step])
        feeds.append(time.perf_counter() - began)
        # the piece that holds the end of the speech (a pause inside the clip commits earlier ones)
        if committed_at is None and transcript.spans and transcript.spans[-1][1] * SAMPLE_RATE >= voiced_end:
            committed_at = (min(start + step, len(audio)) - voiced_end) / SAMPLE_RATE + feeds[-1]
    return {"latency_s": committed_at, "feeds_s": feeds, "text": live.finish().text}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo/model")
    parser.add_argument("--data", type=Path, default=Path("data/real/test.csv"))
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--chunk", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "live.json")
    args = parser.parse_args(argv)
    predictor = Predictor.from_pretrained(args.model)
    frame = read_manifest(args.data).head(args.clips)
    runs = [measure(predictor, load_audio(p), args.chunk) for p in frame["path"]]
    latencies = [r["latency_s"] for r in runs if r["latency_s"] is not None]
    feeds = [f for r in runs for f in r["feeds_s"]]
    row = {"model": args.model, "clips": len(runs), "committed": len(latencies),
           "latency median s": float(np.median(latencies)), "latency max s": float(np.max(latencies)),
           "feed median s": float(np.median(feeds)), "feed p95 s": float(np.percentile(feeds, 95)),
           "feeds slower than a chunk": sum(f > args.chunk for f in feeds)}
    print_table(f"live mode, {args.chunk:g}-s chunks, pause 0.6 s", [row])
    write_json(args.out, {"machine": machine_info(torch.get_num_threads()), "row": row,
                          "examples": [{"reference": t, "live": r["text"]} for t, r in zip(frame["text"], runs)]})


if __name__ == "__main__":
    main()
