"""Inference bench: our batch predictor against the Hugging Face ASR pipeline, same weights,
same files, same threads; the model's FLOPs against the machine's matmul peak; speed options.

    python -m bench.inference [--quick] [--clips N] [--threads T] [--parallel-batches P] [--out bench/results/inference.json]

Every contender runs over the whole clip set once per round, in alternating order, followed
by a matmul measurement; the fastest round counts (the one least disturbed by other work on the
machine). CPU time is reported beside wall time: on a shared machine it varies less. The
predictor runs as the CLI runs it: P batches at once, sharing the T threads (by default a batch
per thread, each single-threaded); the pipeline gets all T threads.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from bench.agreement import agreement, ctc_argmax, frame_agreement
from bench.corpus import make_clip_folder
from bench.machine import load_note, machine_info, matmul_gflops, timed, timed_cpu
from bench.models import choose_weights, encoder_flops, flops_for_lengths, fresh_model
from bench.paths import CACHE_DIR, RESULTS_DIR
from bench.report import log, paired_ratios, print_table, write_json
from data_utils.audio import SAMPLE_RATE, load_audio
from model.predict import Predictor
from model.segments import batches_by_seconds, threads_per_batch

PIPELINE_BATCH = 8
TARGET_RATIO, TARGET_BOUND = 3.0, 0.70


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~30 clips, fewer option passes (a couple of minutes)")
    parser.add_argument("--clips", type=int, help="clips in the folder (default 200, 30 with --quick)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads for every contender")
    parser.add_argument("--batch-seconds", type=float, default=20.0, help="the predictor's padded seconds per batch")
    parser.add_argument("--parallel-batches", type=int, help="the predictor's batches at once (default: one per thread)")
    parser.add_argument("--rounds", type=int, default=2, help="passes per contender over the clip set (best counts)")
    parser.add_argument("--option-clips", type=int, help="clips for the speed options (default 24, 12 with --quick)")
    parser.add_argument("--bf16-clips", type=int, default=6, help="clips for bf16 autocast (emulated on AVX2: slow)")
    parser.add_argument("--option-passes", type=int, help="passes over the option clips (default 3, 2 with --quick)")
    parser.add_argument("--skip-compile", action="store_true", help="leave torch.compile out (it compiles for minutes)")
    parser.add_argument("--model", type=Path, help="model directory (default: the demo model, else a fresh one)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "inference.json")
    args = parser.parse_args(argv)
    args.clips = args.clips or (30 if args.quick else 200)
    args.option_passes = args.option_passes or (2 if args.quick else 3)
    args.option_clips = min(args.clips, args.option_clips or (12 if args.quick else 24))
    args.parallel_batches = args.parallel_batches or args.threads
    return args


def shipped(model, codec, args, threads: int | None = None, **changes) -> tuple[Predictor, Callable]:
    """A predictor set up as the CLI sets it up, and the thread count its batches run with."""
    settings = {"batch_seconds": args.batch_seconds, "parallel_batches": args.parallel_batches, **changes}
    per_batch = threads_per_batch(threads or args.threads, settings["parallel_batches"])
    return Predictor(model, codec, **settings), lambda: ThreadCount(per_batch)


# --- the contenders ---------------------------------------------------------------------------------

def load_pipeline(exported: Path):
    from transformers import pipeline

    return pipeline("automatic-speech-recognition", model=str(exported), batch_size=PIPELINE_BATCH, device=-1)


def predictor_on_files(predictor: Predictor, context: Callable = nullcontext) -> Callable[[list], list[str]]:
    def run(paths):
        with context():
            return [p.jamo for p in predictor.predict_files(paths)]
    return run


def predictor_on_arrays(predictor: Predictor, context: Callable = nullcontext) -> Callable[[list], list[str]]:
    def run(arrays):
        with context():
            return [p.jamo for p in predictor.predict_arrays(arrays)]
    return run


def pipeline_on(asr, batch_size: int = PIPELINE_BATCH) -> Callable[[list], list[str]]:
    """File paths are decoded by the pipeline itself (ffmpeg); arrays are taken as 16 kHz. The
    tokenizer spells an emitted <unk> out where our codec drops it: drop it here too, so that
    only the numerics and the decoding of frames are compared."""
    def run(inputs):
        outputs = asr([str(x) if isinstance(x, Path) else x for x in inputs], batch_size=batch_size)
        return [out["text"].replace("<unk>", "") for out in outputs]
    return run


def rounds(contenders: dict[str, Callable], items: list, count: int, threads: int) -> dict:
    """Every contender over all `items`, `count` times in alternating order, each run followed
    by a matmul measurement under the same conditions. Keeps outputs of the first round."""
    results = {name: {"wall": [], "cpu": [], "outputs": None} for name in contenders}
    peaks = []
    for r in range(count):
        for name in list(contenders) if r % 2 == 0 else list(reversed(contenders)):
            outputs, wall, cpu = timed_cpu(contenders[name], items)
            entry = results[name]
            entry["wall"].append(wall)
            entry["cpu"].append(cpu)
            entry["outputs"] = entry["outputs"] or outputs
            peaks.append(matmul_gflops(threads))
            log(f"round {r + 1}/{count}: {name} {wall:.1f} s wall, {cpu:.1f} s CPU")
    for entry in results.values():
        entry["seconds"], entry["cpu_seconds"] = min(entry["wall"]), min(entry["cpu"])
    results["matmul_gflops"] = peaks
    return results


# --- padding and FLOPs -----------------------------------------------------------------------------------

def predictor_padding(lengths: list[int], batch_seconds: float) -> float:
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches_by_seconds(lengths, batch_seconds))
    return 1 - sum(lengths) / padded


def pipeline_padding(lengths: list[int], batch_size: int) -> float:
    """The pipeline batches in input order: each batch is padded to its longest clip."""
    padded = sum(max(lengths[i : i + batch_size]) * len(lengths[i : i + batch_size]) for i in range(0, len(lengths), batch_size))
    return 1 - sum(lengths) / padded


def throughput_rows(results: dict, audio_seconds: float, reference: str, paddings: dict, agreements: dict,
                    useful_flops: float, peak: float) -> list[dict]:
    base, base_cpu = results[reference]["seconds"], results[reference]["cpu_seconds"]
    rows = []
    for name, padding in paddings.items():
        seconds, cpu = results[name]["seconds"], results[name]["cpu_seconds"]
        rows.append({
            "contender": name, "seconds": seconds, "audio_s_per_s": audio_seconds / seconds,
            "speed_vs_pipeline": base / seconds, "cpu_s": cpu, "audio_s_per_cpu_s": audio_seconds / cpu,
            "cpu_speed_vs_pipeline": base_cpu / cpu, "padding": padding,
            "identical": f"{agreements[name]['identical']}/{agreements[name]['of']}", "cer_vs_predictor": agreements[name]["cer"],
            "differ_only_at_end": agreements[name]["differ_only_at_end"],
            "useful_gflops": useful_flops / seconds / 1e9, "of_matmul_peak": useful_flops / seconds / 1e9 / peak,
            "wall_per_round": [round(x, 2) for x in results[name]["wall"]],
            "speed_vs_pipeline_per_round": [round(r, 2) for r in paired_ratios(results[reference]["wall"], results[name]["wall"])],
        })
    return rows


# --- speed options ---------------------------------------------------------------------------------------

def speed_options(model, codec, arrays: list[np.ndarray], args) -> list[dict]:
    """Each option against the predictor as shipped on the same clips, pass by pass in
    alternating order; the fastest pass counts (the one least disturbed by other work on the
    machine). An option changes one setting and keeps the others."""
    config = model.encoder_config
    threads, other_threads = args.threads, 1 if args.threads != 1 else 2
    predictor, per_batch = shipped(model, codec, args)
    probe = arrays[:4]
    reference_frames = ctc_argmax(predictor, probe, per_batch)

    def option(name, clips=arrays, **changes):
        return (name, *shipped(model, codec, args, **changes), clips, threads)

    options = [  # name, predictor, context, clips, threads
        ("fp32 (as shipped)", predictor, per_batch, arrays, threads),
        (f"threads={other_threads}", *shipped(model, codec, args, threads=other_threads, parallel_batches=1),
         arrays, other_threads),
        *(option(f"parallel_batches={count}", parallel_batches=count)
          for count in sorted({1, 2 * args.parallel_batches}) if count != args.parallel_batches),
        *(option(f"batch_seconds={size:g}", batch_seconds=size) for size in (120.0, 30.0, 20.0, 10.0) if size != args.batch_seconds),
        option("int8 dynamic (Linear), --precision int8", precision="int8"),
    ]
    compile_seconds = None
    if not args.skip_compile:
        compiled = shipped(torch.compile(copy.deepcopy(model), dynamic=True), codec, args)
        log("torch.compile: first pass (compiles)")
        _, compile_seconds = timed(predictor_on_arrays(*compiled), arrays)
        options.append(("torch.compile (dynamic)", *compiled, arrays, threads))
    small = arrays[: args.bf16_clips]
    options.append(("fp32 (as shipped), bf16 subset", predictor, per_batch, small, threads))
    options.append(option("bf16 autocast, --precision bf16", small, precision="bf16"))

    runs = {}
    for repeat in range(args.option_passes):
        for name, option_predictor, context, clips, _ in (options if repeat % 2 == 0 else list(reversed(options))):
            outputs, seconds = timed(predictor_on_arrays(option_predictor, context), clips)
            runs.setdefault(name, {"seconds": [], "outputs": outputs})["seconds"].append(seconds)
            log(f"option {name}: {seconds:.1f}s")
    peaks = {count: matmul_gflops(count) for count in (threads, other_threads)}
    rows = []
    for name, option_predictor, context, clips, option_threads in options:
        reference = runs["fp32 (as shipped), bf16 subset" if clips is small else "fp32 (as shipped)"]
        best = min(runs[name]["seconds"])
        useful = flops_for_lengths(config, [len(c) for c in clips]) / best / 1e9
        rows.append({
            "option": name, "clips": len(clips), "threads": option_threads,
            "audio_s_per_s": sum(len(c) for c in clips) / SAMPLE_RATE / best,
            "speed_vs_fp32": min(reference["seconds"]) / best,
            **{k: v for k, v in agreement(reference["outputs"], runs[name]["outputs"]).items() if k in ("identical", "cer")},
            "frame_argmax_agreement": frame_agreement(reference_frames, ctc_argmax(option_predictor, probe, context)),
            "useful_gflops": useful, "of_matmul_peak": useful / peaks[option_threads],
            "compile_s": compile_seconds if name.startswith("torch.compile") else None,
            "passes_s": [round(x, 2) for x in runs[name]["seconds"]],
        })
    return rows


def profile_predictor(model, codec, arrays: list[np.ndarray], args, top: int = 10) -> list[dict]:
    """Where the predictor's time goes (torch.profiler, self CPU time per op). The profiler sees
    only the thread that starts it, so the batches run one after another here, each with the
    threads it has when batches run in parallel."""
    from torch.profiler import ProfilerActivity, profile

    predictor, _ = shipped(model, codec, args, parallel_batches=1)
    with profile(activities=[ProfilerActivity.CPU]) as profiler, ThreadCount(threads_per_batch(args.threads, args.parallel_batches)):
        predictor.predict_arrays(arrays)
    events = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    rows = [{"op": e.key, "calls": e.count, "self_ms": e.self_cpu_time_total / 1000, "share": e.self_cpu_time_total / total}
            for e in events[:top]]
    rows.append({"op": "(all other ops)", "self_ms": sum(e.self_cpu_time_total for e in events[top:]) / 1000,
                 "share": sum(e.self_cpu_time_total for e in events[top:]) / total})
    return rows


class ThreadCount:
    """torch.set_num_threads for a block, restored afterwards."""

    def __init__(self, count: int):
        self.count, self.previous = count, torch.get_num_threads()

    def __enter__(self):
        torch.set_num_threads(self.count)

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)


# --- a strict identity check on random weights -------------------------------------------------------------

def strict_identity(arrays: list[np.ndarray], batch_seconds: float) -> dict:
    """Random weights emit long jamo strings from every frame, so identical transcripts here
    mean identical numerics (a barely trained model emits mostly blanks, which agree trivially)."""
    from model.export import export_ctc

    weights = fresh_model(CACHE_DIR / "fresh-demo-weights", "demo")
    exported = export_ctc(weights, CACHE_DIR / "fresh-demo-exported")
    ours = predictor_on_arrays(Predictor.from_pretrained(weights, batch_seconds=batch_seconds))(arrays)
    asr = load_pipeline(exported)
    return [{"compared_with": f"pipeline batch_size={size}", **agreement(ours, pipeline_on(asr, size)(arrays))}
            for size in (1, PIPELINE_BATCH)]


# --- main -----------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = machine_info(args.threads)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    weights, weights_note = (args.model, f"given: {args.model}") if args.model else choose_weights(CACHE_DIR)
    log(f"weights: {weights_note}")
    from model.export import export_ctc

    exported = export_ctc(weights, CACHE_DIR / "exported-ctc")
    paths = make_clip_folder(CACHE_DIR, args.clips, seed=0)
    arrays = [load_audio(p) for p in paths]
    lengths = [len(a) for a in arrays]
    audio_seconds = sum(lengths) / SAMPLE_RATE
    log(f"{len(paths)} clips, {audio_seconds:.0f} s of audio ({min(lengths) / SAMPLE_RATE:.1f}-{max(lengths) / SAMPLE_RATE:.1f} s)")

    loaded = Predictor.from_pretrained(weights)
    predictor, per_batch = shipped(loaded.model, loaded.codec, args)
    asr = load_pipeline(exported)
    config = predictor.model.encoder_config
    for warm_up in (predictor_on_files(predictor, per_batch), pipeline_on(asr), pipeline_on(asr, batch_size=1)):  # first calls allocate and load kernels
        warm_up(paths[:2])

    contenders = {"predictor": predictor_on_files(predictor, per_batch), "pipeline": pipeline_on(asr)}
    paddings = {"predictor": predictor_padding(lengths, args.batch_seconds), "pipeline": pipeline_padding(lengths, PIPELINE_BATCH)}
    useful_flops = flops_for_lengths(config, lengths)

    log("end to end, from files")
    files = rounds(contenders, paths, args.rounds, args.threads)
    log("model only, from decoded arrays")
    in_memory = rounds({"predictor": predictor_on_arrays(predictor, per_batch), "pipeline": pipeline_on(asr),
                        "pipeline_batch1": pipeline_on(asr, batch_size=1)}, arrays, args.rounds, args.threads)
    peaks = files.pop("matmul_gflops") + in_memory.pop("matmul_gflops")
    peak = statistics.median(peaks)

    sections = {}
    for label, results in (("files", files), ("arrays", in_memory)):
        names = [n for n in results if n in paddings or n == "pipeline_batch1"]
        agreements = {name: agreement(results["predictor"]["outputs"], results[name]["outputs"]) for name in names}
        padding = {name: paddings.get(name, 0.0) for name in names}
        sections[label] = throughput_rows(results, audio_seconds, "pipeline", padding, agreements, useful_flops, peak)
        print_table(f"Throughput, {'end to end from files' if label == 'files' else 'model only from arrays'} "
                    f"({len(paths)} clips, {audio_seconds:.0f} s audio, {args.threads} threads)", sections[label])

    mean_samples = int(np.mean(lengths))
    per_second = {k: v / (mean_samples / SAMPLE_RATE) for k, v in encoder_flops(config, mean_samples).items()}
    bound = {"flops_per_audio_second_at_mean_length": per_second, "mean_clip_seconds": mean_samples / SAMPLE_RATE,
             "matmul_gflops_per_slice": peaks, "matmul_gflops_median": peak,
             "compute_bound_audio_s_per_s": peak * 1e9 / (useful_flops / audio_seconds)}
    print_table("Compute bound", [
        {"figure": "model GFLOPs per audio second (forward, mean clip length)", "value": per_second["total"] / 1e9},
        *({"figure": f"  of which {k}", "value": v / 1e9} for k, v in per_second.items() if k != "total"),
        {"figure": f"matmul peak GFLOP/s ({args.threads} threads, median of {len(peaks)})", "value": peak},
        {"figure": "compute bound, audio s per s", "value": bound["compute_bound_audio_s_per_s"]},
        {"figure": "predictor, share of bound (model only)", "value": sections["arrays"][0]["of_matmul_peak"]},
        {"figure": "predictor, share of bound (from files)", "value": sections["files"][0]["of_matmul_peak"]},
    ])

    option_arrays = arrays[: args.option_clips]
    log(f"speed options on {len(option_arrays)} clips")
    options = speed_options(predictor.model, predictor.codec, option_arrays, args)
    print_table(f"Speed options (model only, {len(option_arrays)} clips; bf16 on {args.bf16_clips})", options)
    profile = profile_predictor(predictor.model, predictor.codec, option_arrays, args)
    print_table(f"Where the predictor's time goes ({len(option_arrays)} clips, torch.profiler, batches one after another)", profile)

    log("strict identity check on random weights")
    strict_count = 6 if args.quick else 12
    strict = strict_identity(arrays[:strict_count], args.batch_seconds)
    print_table("Identity on random weights (long transcripts)", strict)

    targets = target_rows(sections, strict)
    print_table("Targets", targets)
    result = {
        "machine": {**machine, **load_note(machine["load_average_at_start"])}, "weights": weights_note,
        "clips": {"count": len(paths), "audio_seconds": audio_seconds, "min_s": min(lengths) / SAMPLE_RATE,
                  "max_s": max(lengths) / SAMPLE_RATE, "folder": str(paths[0].parent)},
        "settings": {"threads": args.threads, "batch_seconds": args.batch_seconds, "parallel_batches": args.parallel_batches,
                     "threads_per_batch": threads_per_batch(args.threads, args.parallel_batches),
                     "pipeline_batch_size": PIPELINE_BATCH, "rounds": args.rounds},
        "throughput": sections, "compute_bound": bound, "speed_options": options, "profile": profile,
        "strict_identity_random_weights": strict, "targets": targets,
    }
    write_json(args.out, result)
    return result


def target_rows(sections: dict, strict: dict) -> list[dict]:
    rows = []
    for label in ("files", "arrays"):
        ours = sections[label][0]
        rows.append({"target": f"predictor >= {TARGET_RATIO:g}x pipeline ({label}, wall)", "measured": ours["speed_vs_pipeline"],
                     "met": ours["speed_vs_pipeline"] >= TARGET_RATIO})
        rows.append({"target": f"predictor >= {TARGET_RATIO:g}x pipeline ({label}, CPU time)",
                     "measured": ours["cpu_speed_vs_pipeline"], "met": ours["cpu_speed_vs_pipeline"] >= TARGET_RATIO})
        slowest_round = min(ours["speed_vs_pipeline_per_round"])
        rows.append({"target": f"predictor >= {TARGET_RATIO:g}x pipeline ({label}, every round)", "measured": slowest_round,
                     "met": slowest_round >= TARGET_RATIO})
        for other in sections[label][1:]:
            done, total = other["identical"].split("/")
            rows.append({"target": f"identical transcripts, {other['contender']} ({label})", "measured": other["identical"],
                         "met": done == total})
    for check in strict:
        rows.append({"target": f"identical transcripts, random weights, {check['compared_with']}",
                     "measured": f"{check['identical']}/{check['of']}", "met": check["identical"] == check["of"]})
    share = sections["arrays"][0]["of_matmul_peak"]
    rows.append({"target": f">= {TARGET_BOUND:.0%} of compute bound (model only)", "measured": share, "met": share >= TARGET_BOUND})
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
