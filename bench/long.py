"""Long recordings: throughput and peak memory of `python -m model.predict` on 1-, 10- and
60-minute files, as a user runs it (a fresh process per file, subtitles with timestamps).

    python -m bench.long [--minutes 1 10 60] [--model demo/whisper-model] [--threads T] [--out bench/results/long.json]

Each recording is the utterances of a small synthetic corpus, each followed by 1 s of silence,
tiled to the length (as tests/test_stream.py builds its lecture). Every figure is compared with
the shortest file's: wall time includes loading the model, so the shortest run is the fixed cost,
and a longer file whose throughput and peak memory hold to it costs no more per second (files
over `model.predict.IN_MEMORY_SECONDS` are streamed window by window, the others loaded whole).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from bench.corpus import make_long_recording, make_training_corpus
from bench.machine import cpu_seconds, load_note, machine_info, peak_rss
from bench.paths import CACHE_DIR, RESULTS_DIR, WHISPER_MODEL
from bench.report import log, print_table, write_json
from data_utils.audio import audio_info
from model.predict import IN_MEMORY_SECONDS

UTTERANCES, SEED = 32, 3  # the corpus tiled into every recording (tests/conftest.py's synth_corpus uses 24, seed 3)
COLUMNS = ["minutes", "how", "wall_s", "audio_s_per_s", "speed_vs_shortest", "peak_rss_mb", "rss_over_shortest_mb",
           "cues", "cpu_s", "audio_s_per_cpu_s"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=WHISPER_MODEL, help="model directory (default: demo/whisper-model)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60], help="recording lengths")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="model.predict --threads")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "long.json")
    args = parser.parse_args(argv)
    args.minutes = sorted({int(m) if float(m).is_integer() else m for m in args.minutes})  # 1, not 1.000, in the table
    return args


def count_cues(srt: Path) -> int:
    """Subtitle cues: one timing line ("00:00:01,000 --> 00:00:02,500") each."""
    return sum(" --> " in line for line in srt.read_text(encoding="utf-8").splitlines())


def run_predict(model: Path, recording: Path, threads: int) -> dict:
    """One `python -m model.predict` run on `recording`, its resident memory sampled throughout."""
    out = CACHE_DIR / "long" / f"srt-{recording.stem}"
    shutil.rmtree(out, ignore_errors=True)  # a stale file must not be counted as this run's
    command = [sys.executable, "-m", "model.predict", "--model", str(model), str(recording), "--timestamps",
               "--format", "srt", "--out", str(out), "--threads", str(threads)]
    start, start_cpu = time.perf_counter(), cpu_seconds()
    done, peak = peak_rss(command, timeout=None)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    srt = out / f"{recording.stem}.srt"
    if done.returncode or not srt.is_file():
        raise RuntimeError(f"model.predict failed on {recording} ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak / 2**20, "cues": count_cues(srt)}


def rows_against_shortest(results: list[dict]) -> list[dict]:
    """Each file's throughput over the shortest's, and its peak memory above the shortest's."""
    shortest = results[0]
    return [{**r, "speed_vs_shortest": r["audio_s_per_s"] / shortest["audio_s_per_s"],
             "rss_over_shortest_mb": r["peak_rss_mb"] - shortest["peak_rss_mb"]} for r in results]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if not (args.model / "model.safetensors").is_file():
        raise SystemExit(f"error: no model at {args.model} (give --model DIR)")
    machine = machine_info(args.threads)
    manifest = make_training_corpus(CACHE_DIR, UTTERANCES, seed=SEED)
    results = []
    for minutes in args.minutes:
        recording = make_long_recording(manifest, minutes, CACHE_DIR / "long")
        seconds = audio_info(recording, max_seconds=None).duration
        log(f"{minutes:g} min: model.predict on {recording.name}")
        run = run_predict(args.model, recording, args.threads)
        results.append({"minutes": minutes, "how": "streamed" if seconds > IN_MEMORY_SECONDS else "loaded whole",
                        "audio_s": seconds, **run, "audio_s_per_s": seconds / run["wall_s"],
                        "audio_s_per_cpu_s": seconds / run["cpu_s"]})
        log(f"  {run['wall_s']:.1f} s wall, peak RSS {run['peak_rss_mb']:.0f} MB, {run['cues']} cues")
    rows = rows_against_shortest(results)
    print_table(f"model.predict on long recordings ({args.model}, {args.threads} threads; "
                f"against the {args.minutes[0]:g}-minute file)", rows, COLUMNS)
    result = {"machine": {**machine, **load_note(machine["load_average_at_start"])},
              "settings": {"model": str(args.model), "threads": args.threads, "corpus": str(manifest),
                           "utterances": UTTERANCES, "pause_s": 1.0, "in_memory_seconds": IN_MEMORY_SECONDS},
              "rows": rows}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
