"""Data bench: decode + resample throughput of `data_utils.audio.load_audio`, per format and rate.

    python -m bench.data [--quick] [--clips N] [--out bench/results/data.json]

Synthetic clips are re-encoded by ffmpeg as wav, flac, mp3 and m4a at 44.1 and 48 kHz; each file
is then loaded as the toolkit loads it (16 kHz mono float32). One process does the loading, so
audio seconds per CPU second is the throughput of one core; ffmpeg's own CPU time (m4a goes
through one ffmpeg call) is counted with it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import soundfile as sf

from bench.corpus import make_clip_folder
from bench.machine import load_note, machine_info, timed_cpu
from bench.paths import CACHE_DIR, RESULTS_DIR
from bench.report import log, print_table, write_json
from data_utils.audio import SAMPLE_RATE, load_audio, to_mono_16k

FORMATS = {  # suffix -> ffmpeg codec arguments
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "128k"],
}
RATES = (44100, 48000)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips and rounds")
    parser.add_argument("--clips", type=int, help="source clips (default 20, 6 with --quick)")
    parser.add_argument("--rounds", type=int, help="passes over each file set; the fastest counts (default 3, 2 with --quick)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "data.json")
    args = parser.parse_args(argv)
    args.clips = args.clips or (6 if args.quick else 20)
    args.rounds = args.rounds or (2 if args.quick else 3)
    return args


def encode(sources: list[Path], folder: Path, suffix: str, rate: int) -> list[Path]:
    """ffmpeg re-encodes the 16 kHz clips at `rate` (kept on disk for later runs)."""
    out = folder / f"{suffix}-{rate}"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sources:
        target = out / f"{source.stem}.{suffix}"
        if not target.is_file():
            command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-ar", str(rate), "-ac", "1",
                       *FORMATS[suffix], str(target)]
            subprocess.run(command, check=True)
        paths.append(target)
    return paths


def load_all(paths: list[Path]) -> list:
    return [load_audio(p) for p in paths]


def pydub_loader(path: Path):
    """What load_audio did for m4a before (kept to measure against): pydub's AudioSegment, which
    runs ffprobe and ffmpeg and reads back a temporary 16-bit WAV, then the same downmix and
    soxr resampling."""
    import numpy as np
    from pydub import AudioSegment
    from pydub.utils import mediainfo

    mediainfo(str(path))  # the duration check before decoding
    segment = AudioSegment.from_file(str(path))
    samples = np.array(segment.get_array_of_samples(), dtype=np.float32) / float(1 << (8 * segment.sample_width - 1))
    return to_mono_16k(samples.reshape(-1, segment.channels), segment.frame_rate)


def resample_all(arrays: list, rate: int) -> list:
    return [to_mono_16k(a, rate) for a in arrays]


def measure(paths: list[Path], rate: int, rounds: int, loader=load_audio) -> dict:
    walls, cpus, outputs = [], [], None
    for _ in range(rounds):
        outputs, wall, cpu = timed_cpu(lambda: [loader(p) for p in paths])
        walls.append(wall)
        cpus.append(cpu)
    audio = sum(len(a) for a in outputs) / SAMPLE_RATE
    native = [sf.read(str(p), dtype="float32")[0] for p in paths] if paths[0].suffix in (".wav", ".flac", ".mp3") else None
    resample_cpu = min(timed_cpu(resample_all, native, rate)[2] for _ in range(rounds)) if native is not None else None
    return {"files": len(paths), "audio_s": audio, "wall_s": min(walls), "cpu_s": min(cpus),
            "audio_s_per_s": audio / min(walls), "audio_s_per_cpu_s": audio / min(cpus),
            "resample_share_of_cpu": resample_cpu / min(cpus) if resample_cpu is not None else None,
            "wall_per_round": [round(w, 3) for w in walls]}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    machine = machine_info(threads=1)
    sources = make_clip_folder(CACHE_DIR, 30, seed=0)[: args.clips]
    folder = CACHE_DIR / "formats"
    rows = []
    for suffix in FORMATS:
        for rate in RATES:
            paths = encode(sources, folder, suffix, rate)
            load_all(paths[:1])  # first call imports pydub / opens libsndfile codecs
            result = measure(paths, rate, args.rounds)
            rows.append({"format": suffix, "rate_hz": rate, "loader": "load_audio", **result})
            log(f"{suffix} {rate} Hz: {result['audio_s_per_cpu_s']:.0f} audio s per CPU s")
            if suffix == "m4a":
                rows.append({"format": suffix, "rate_hz": rate, "loader": "pydub AudioSegment (the loader before)",
                             **measure(paths, rate, args.rounds, loader=pydub_loader)})
    columns = ["format", "rate_hz", "loader", "files", "audio_s", "audio_s_per_s", "audio_s_per_cpu_s", "resample_share_of_cpu",
               "wall_s", "cpu_s"]
    print_table(f"load_audio: decode + resample to 16 kHz mono ({args.clips} clips per set, best of {args.rounds})",
                rows, columns)
    result = {"machine": {**machine, **load_note(machine["load_average_at_start"])},
              "settings": {"clips": args.clips, "rounds": args.rounds, "source": str(sources[0].parent)}, "rows": rows}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
