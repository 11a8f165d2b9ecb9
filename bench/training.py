"""Training bench: our per-worker loop without Ray, our Ray trainer with one worker, and the
Hugging Face `Trainer` (random batches, then length-grouped) on the same encoder config and data.

    python -m bench.training [--quick] [--presets tiny demo] [--threads T] [--out bench/results/training.json]
    python -m bench.training --presets base --device cuda --amp bf16 --peak-tflops 989   # on a GPU machine

Every contender runs in a fresh process on the same synthetic corpus. The first `--warmup-steps`
steps are left out of the timing; throughput is real (unpadded) audio seconds per wall second
over the following `--steps` steps (by default one epoch of our sampler's batches, so that the
padding is an epoch's and not that of a few batches), data loading included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.corpus import make_training_corpus
from bench.machine import load_note, machine_info, matmul_gflops
from bench.models import encoder_flops
from bench.paths import CACHE_DIR, PROJECT_ROOT, RESULTS_DIR
from bench.report import log, paired_ratios, print_table, write_json
from data_utils.audio import SAMPLE_RATE

CONTENDERS = ("loop", "ray", "hf", "hf-grouped")
DESCRIPTIONS = {
    "loop": "(a) our loop, --no-ray",
    "ray": "(b) our Ray trainer, 1 worker",
    "hf": "(c) HF Trainer, random batches (default)",
    "hf-grouped": "(c) HF Trainer, group_by_length",
}
WARMUP_STEPS = {"tiny": 3, "demo": 2, "base": 5}
MIN_TIMED_STEPS = {"tiny": 20, "demo": 8, "base": 20}  # when an epoch is shorter than this
QUICK_STEPS = {"tiny": (2, 8), "demo": (1, 3), "base": (3, 10)}  # (warm-up steps, timed steps)
TARGET_VS_HF, TARGET_PADDING, TARGET_RAY = 1.5, 0.05, 0.05


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--presets", "--preset", nargs="+", default=["tiny", "demo"], choices=["tiny", "demo", "base"])
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--warmup-steps", type=int, help="steps left out of the timing (default per preset)")
    parser.add_argument("--steps", type=int, help="timed steps (default per preset)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads in every contender")
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender, in alternating order (steps pooled)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--amp", choices=["no", "bf16"], default="no")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak for MFU (default: a measured matmul)")
    parser.add_argument("--utterances", type=int, default=240, help="synthetic training utterances")
    parser.add_argument("--manifest", type=Path, help="train on this manifest instead of the synthetic corpus")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "training.json")
    return parser.parse_args(argv)


# --- our loop, with and without Ray -------------------------------------------------------------------

def our_config(preset: str, args, steps: int) -> dict:
    """The preset's defaults (as distributed.train uses them) plus bench settings: log every step,
    no evaluation or checkpoint inside the timed window."""
    from distributed.config import PRESET_DEFAULTS

    return {**PRESET_DEFAULTS[preset], "log_every": 1, "eval_every": 10**9, "checkpoint_every": 10**9,
            "threads_per_worker": args.threads, "cpus_per_worker": 1, "loader_workers": 1,
            "amp": args.amp, "use_gpu": args.device == "cuda", "max_steps": steps}


def run_ours(contender: str, preset: str, manifest: Path, run_dir: Path, args, warmup: int, timed_steps: int) -> dict:
    config = our_config(preset, args, warmup + timed_steps)
    config_file = run_dir.parent / f"{run_dir.name}-config.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-m", "distributed.train", "--train", str(manifest), "--output", str(run_dir),
               "--preset", preset, "--config", str(config_file)]
    command += ["--no-ray"] if contender == "loop" else ["--num-workers", "1"]
    progress = run_dir / "metrics.jsonl"
    wall, cpu, by_process = run_child(command, run_dir.parent / f"{run_dir.name}.log", progress, warmup, warmup + timed_steps)
    return {"steps": [s for s in our_steps(progress) if s["step"] > warmup], "wall": wall, "cpu": cpu,
            "cpu_by_process": by_process}


def our_steps(metrics: Path) -> list[dict]:
    """Per-step records of our loop (log_every=1): step time, real and padded audio seconds."""
    steps = []
    for line in metrics.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "audio_s_per_s" in record:
            audio = record["audio_s_per_s"] * record["step_time_s"]
            steps.append({"step": record["step"], "step_time_s": record["step_time_s"], "audio_s": audio,
                          "padded_s": audio / max(1e-9, 1 - record["padding_fraction"])})
    return steps


def count_steps(progress: Path) -> int:
    try:
        return progress.read_text(encoding="utf-8").count('"step_time_s"')
    except OSError:
        return 0


def tree_cpu_by_process(process) -> dict[str, float]:
    """CPU seconds of a process and each of its descendants (DataLoader workers; Ray's raylet, GCS
    and worker processes), so that work done outside the training process counts too."""
    import psutil

    usage = {}
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            usage[f"{p.pid} {p.name()}"] = times.user + times.system
        except psutil.Error:
            pass
    return usage


def run_child(command: list[str], log_file: Path, progress: Path, first: int, last: int) -> tuple[float, float | None, dict]:
    """Run a contender in a fresh process (same niceness as ours). Returns its wall time, the CPU
    time its process tree spent between the progress records of step `first` and step `last`,
    and that CPU time by process (the busiest few)."""
    import psutil

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TOKENIZERS_PARALLELISM": "false"}
    start, marks = time.perf_counter(), {}
    with open(log_file, "w", encoding="utf-8") as handle:
        child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        process = psutil.Process(child.pid)
        while child.poll() is None:
            steps = count_steps(progress)
            for name, step in (("first", first), ("last", last)):
                if name not in marks and steps >= step:
                    marks[name] = tree_cpu_by_process(process)
            time.sleep(0.1)
    if child.returncode:
        tail = log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command[:4])} failed ({child.returncode}); log {log_file}:\n{tail}")
    if len(marks) < 2:
        return time.perf_counter() - start, None, {}
    spent = {key: cpu - marks["first"].get(key, 0.0) for key, cpu in marks["last"].items()}
    busiest = dict(sorted(((k, round(v, 2)) for k, v in spent.items() if v > 0.05), key=lambda kv: -kv[1])[:6])
    return time.perf_counter() - start, sum(spent.values()), busiest


def run_throughput(run: dict) -> float:
    return sum(s["audio_s"] for s in run["steps"]) / sum(s["step_time_s"] for s in run["steps"])


def summary(contender: str, runs: list[dict]) -> dict:
    """Throughput over the timed steps: of the best run (the headline: work from other processes
    only ever slows a run down, so the fastest run is the least disturbed), of all runs pooled,
    from the median step time, and per CPU second of the process tree."""
    timed = [s for run in runs for s in run["steps"]]
    seconds = sum(s["step_time_s"] for s in timed)
    audio, padded = sum(s["audio_s"] for s in timed), sum(s["padded_s"] for s in timed)
    median_step = statistics.median(s["step_time_s"] for s in timed)
    cpu = sum(run["cpu"] for run in runs) if all(run["cpu"] for run in runs) else None
    per_run = [run_throughput(run) for run in runs]
    best = runs[per_run.index(max(per_run))]
    return {"contender": contender, "runs": len(runs), "timed_steps": len(timed),
            "best_run_audio_s_per_s": max(per_run), "run_audio_s_per_s": [round(x, 2) for x in per_run],
            "best_run_step_time_s": sum(s["step_time_s"] for s in best["steps"]) / len(best["steps"]),
            "timed_s": seconds, "audio_s": audio, "audio_s_per_s": audio / seconds, "step_time_s": seconds / len(timed),
            "median_step_time_s": median_step, "audio_s_per_s_median": audio / len(timed) / median_step,
            "cpu_s": cpu, "audio_s_per_cpu_s": audio / cpu if cpu else None,
            "padding_fraction": 1 - audio / padded if padded else 0.0, "wall_s": sum(run["wall"] for run in runs),
            "batch_size": runs[0].get("batch_size"), "step_times_s": [round(s["step_time_s"], 3) for s in timed],
            "cpu_by_process_per_run": [run.get("cpu_by_process", {}) for run in runs]}


# --- the Hugging Face Trainer -----------------------------------------------------------------------------

def run_hf(contender: str, preset: str, manifest: Path, run_dir: Path, args, warmup: int, timed_steps: int) -> dict:
    """(c) in a fresh process (bench.hf_worker), watched and timed as our contenders are."""
    spec = {"contender": contender, "preset": preset, "manifest": str(manifest), "output": str(run_dir),
            "warmup": warmup, "steps": timed_steps, "threads": args.threads, "device": args.device, "amp": args.amp,
            "result": str(run_dir / "hf-result.json"), "progress": str(run_dir / "progress.jsonl")}
    run_dir.mkdir(parents=True, exist_ok=True)
    spec_file = run_dir / "hf-spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    progress = run_dir / "progress.jsonl"
    wall, cpu, by_process = run_child([sys.executable, "-m", "bench.hf_worker", str(spec_file)],
                                      run_dir.parent / f"{run_dir.name}.log", progress, warmup, warmup + timed_steps)
    steps = [json.loads(line) for line in progress.read_text(encoding="utf-8").splitlines()]
    batch_size = json.loads(Path(spec["result"]).read_text(encoding="utf-8"))["batch_size"]
    return {"steps": [s for s in steps if s["step"] > warmup], "wall": wall, "cpu": cpu, "batch_size": batch_size,
            "cpu_by_process": by_process}


# --- figures ---------------------------------------------------------------------------------------------

def peak_gflops(args) -> tuple[float, str]:
    if args.peak_tflops:
        return args.peak_tflops * 1000, f"given: {args.peak_tflops} TFLOP/s"
    if args.device == "cuda":
        import torch

        dtype = torch.bfloat16 if args.amp == "bf16" else torch.float32
        return matmul_gflops(args.threads, size=8192, device="cuda", dtype=dtype), f"measured cuda matmul ({dtype})"
    return matmul_gflops(args.threads), f"measured fp32 matmul, {args.threads} threads"


def manifest_samples(manifest: Path):
    """Each utterance's length in samples, from the manifest's durations."""
    from data_utils.manifest import read_manifest

    return (read_manifest(manifest)["duration"].astype(float) * SAMPLE_RATE).astype(int).to_numpy()


def sampler_epoch(manifest: Path, preset: str) -> tuple[int, float]:
    """Our sampler's batch count and padding over the first epoch of `manifest` at the preset's
    batch size (from the manifest's durations; the loop measures the decoded audio)."""
    from data_utils.batching import DynamicBatchSampler
    from distributed.config import PRESET_DEFAULTS, TrainConfig

    sampler = DynamicBatchSampler(manifest_samples(manifest), PRESET_DEFAULTS[preset]["batch_seconds"],
                                  seed=TrainConfig.seed)
    return len(sampler), sampler.padding_fraction()


MEASURES = {"best_run": "best_run_audio_s_per_s", "pooled": "audio_s_per_s", "median_step": "audio_s_per_s_median",
            "cpu": "audio_s_per_cpu_s", "paired": "run_audio_s_per_s"}


def ratio(a: dict | None, b: dict | None, measure: str) -> float | None:
    """a's throughput over b's by one measure; `paired` is the median of run i's ratios."""
    key = MEASURES[measure]
    if not a or not b or not a.get(key) or not b.get(key):
        return None
    return statistics.median(paired_ratios(a[key], b[key])) if measure == "paired" else a[key] / b[key]


def preset_rows(preset: str, results: dict, flops_per_audio_s: float, peak: float) -> list[dict]:
    """One row per contender: throughput four ways, padding, step time, MFU and the ratios."""
    loop, hf = results.get("loop"), results.get("hf")
    rows = []
    for name, r in results.items():
        rows.append({
            "preset": preset, "contender": DESCRIPTIONS[name], "best_run_audio_s_per_s": r["best_run_audio_s_per_s"],
            "runs": " ".join(f"{x:.1f}" for x in r["run_audio_s_per_s"]), "pooled": r["audio_s_per_s"],
            "median_step": r["audio_s_per_s_median"], "per_cpu_s": r["audio_s_per_cpu_s"],
            "padding": r["padding_fraction"], "best_run_step_s": r["best_run_step_time_s"], "wall_s": r["wall_s"],
            "vs_loop": ratio(r, loop, "best_run"), "vs_hf_default": ratio(r, hf, "best_run"),
            # forward + backward = 3x the forward FLOPs
            "mfu_best_run": 3 * flops_per_audio_s * r["best_run_audio_s_per_s"] / (peak * 1e9),
        })
    return rows


def target_rows(preset: str, results: dict) -> list[dict]:
    """Each target measured five ways (best run, pooled steps, median step, CPU time, paired runs). The
    verdict is the paired one: a lucky best run can hide an overhead that most pairs of runs show."""
    loop, ray, hf = results.get("loop"), results.get("ray"), results.get("hf")
    rows = []
    if loop and hf:
        ratios = {m: ratio(loop, hf, m) for m in MEASURES}
        rows.append({"preset": preset, "target": f"loop >= {TARGET_VS_HF:g}x HF Trainer default", **ratios,
                     "met": ratios["paired"] >= TARGET_VS_HF})
    if loop:
        rows.append({"preset": preset, "target": f"padding < {TARGET_PADDING:.0%}", "best_run": loop["padding_fraction"],
                     "met": loop["padding_fraction"] < TARGET_PADDING})
    if loop and ray:
        overheads = {m: 1 - r if (r := ratio(ray, loop, m)) is not None else None for m in MEASURES}
        rows.append({"preset": preset, "target": f"Ray overhead < {TARGET_RAY:.0%}", **overheads,
                     "met": overheads["paired"] < TARGET_RAY})
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    machine = machine_info(args.threads)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    manifest = args.manifest.resolve() if args.manifest else make_training_corpus(CACHE_DIR, args.utterances, seed=1)
    mean_samples = int(manifest_samples(manifest).mean())
    peak_before, peak_note = peak_gflops(args)
    log(f"corpus {manifest}; peak {peak_before:.1f} GFLOP/s ({peak_note})")

    from model.codec import JamoCodec
    from model.config import encoder_config

    all_rows, targets, raw = [], [], {}
    for preset in args.presets:
        epoch_steps, epoch_padding = sampler_epoch(manifest, preset)
        warmup, timed_steps = QUICK_STEPS[preset] if args.quick else (WARMUP_STEPS[preset], max(epoch_steps, MIN_TIMED_STEPS[preset]))
        warmup, timed_steps = args.warmup_steps or warmup, args.steps or timed_steps
        log(f"{preset}: one epoch is {epoch_steps} batches of our sampler, padding {epoch_padding:.3f}")
        runs: dict[str, list[dict]] = {c: [] for c in args.contenders}
        for repeat in range(args.repeats):  # alternate the order so that slow phases of other work fall evenly
            for contender in args.contenders if repeat % 2 == 0 else list(reversed(args.contenders)):
                run_dir = CACHE_DIR / "train-runs" / f"{preset}-{contender}"
                shutil.rmtree(run_dir, ignore_errors=True)  # a leftover run would be resumed, not re-measured
                run_dir.parent.mkdir(parents=True, exist_ok=True)
                log(f"{preset}: {DESCRIPTIONS[contender]}, run {repeat + 1}/{args.repeats} "
                    f"({warmup} warm-up + {timed_steps} timed steps)")
                runner = run_ours if contender in ("loop", "ray") else run_hf
                run = runner(contender, preset, manifest, run_dir, args, warmup, timed_steps)
                runs[contender].append(run)
                log(f"  {run_throughput(run):.2f} audio s/s, padding {summary(contender, [run])['padding_fraction']:.3f}")
        results = {contender: summary(contender, contender_runs) for contender, contender_runs in runs.items()}
        config = encoder_config(preset, len(JamoCodec()))
        flops_per_audio_s = encoder_flops(config, mean_samples)["total"] / (mean_samples / SAMPLE_RATE)
        rows = preset_rows(preset, results, flops_per_audio_s, peak_before)
        print_table(f"Training, preset {preset} ({args.device}, amp {args.amp}, {args.threads} threads)", rows)
        all_rows += rows
        targets += target_rows(preset, results)
        raw[preset] = {"warmup_steps": warmup, "timed_steps_per_run": timed_steps, "repeats": args.repeats,
                       "sampler_epoch": {"batches": epoch_steps, "padding_fraction": epoch_padding},
                       "forward_gflops_per_audio_s": flops_per_audio_s / 1e9, "results": results}
    peak_after, _ = peak_gflops(args)
    print_table("Targets", targets)
    result = {
        "machine": {**machine, **load_note(machine["load_average_at_start"])},
        "settings": {"device": args.device, "amp": args.amp, "threads": args.threads, "manifest": str(manifest),
                     "mean_utterance_s": mean_samples / SAMPLE_RATE},
        "peak_gflops": {"before": peak_before, "after": peak_after, "how": peak_note,
                        "used_for_mfu": peak_before},
        "rows": all_rows, "presets": raw, "targets": targets,
        "notes": "HF Trainer trains Wav2Vec2ForCTC (CTC only); our loop trains CTC + age/gender/accent heads. "
                 "HF batch size = mean utterance count of our length-grouped batches (same audio per step on average). "
                 "MFU counts 3x the forward matmul/conv FLOPs of the real (unpadded) audio.",
    }
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
