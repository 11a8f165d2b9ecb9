"""Distillation steps in float32 and under bf16 autocast, side by side (issue 19).

    python -m bench.distill_step [--student demo/whisper-student] [--audio data/real/deeply.csv]
                                 [--rounds 3] [--steps 6] [--threads 2]

Each precision trains its own copy of the student with `distributed.distill.train_step` (teacher
forward, student forward and backward, AdamW) on the same batches (6 augmented crops of up to 6 s,
as `distributed.distill` samples them), in rounds of alternating order after one warm-up step
each; the table gives seconds per step and the paired ratio. Before any update, both precisions
read one batch, and the cosine of bf16's states to float32's, per layer, for the student and the
teacher, says what the speed costs. Writes bench/results/distill_step.json.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from transformers import Wav2Vec2ForCTC

from bench.machine import machine_info
from bench.paths import PROJECT_ROOT, RESULTS_DIR
from bench.report import paired_ratios, print_table, write_json
from data_utils.audio import SAMPLE_RATE
from distributed.config import autocast
from distributed.distill import CropSampler, frame_cosine, load_clips, model_inputs, train_step, whole_states
from model.whisper import WhisperAudioEncoder, load_whisper_encoder

PRECISIONS = ("no", "bf16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", type=Path, default=PROJECT_ROOT / "demo" / "whisper-student")
    parser.add_argument("--audio", type=Path, nargs="+", default=[PROJECT_ROOT / "data" / "real" / "deeply.csv"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per precision and round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "distill_step.json")
    return parser.parse_args(argv)


def state_agreement(teacher, student, raw: np.ndarray) -> dict[str, list[float]]:
    """Per layer, the cosine of bf16's states to float32's on one batch."""
    inputs, heard, shift = model_inputs(raw, student.config)
    with torch.no_grad():
        exact = whole_states(teacher, student, inputs, heard, shift)
        with autocast("bf16", "cpu"):
            fast = whole_states(teacher, student, inputs, heard, shift)
    return {name: [round(frame_cosine(a, b, shift=0), 4) for a, b in zip(exact[i], fast[i])]
            for i, name in enumerate(("student", "teacher"))}


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    teacher = WhisperAudioEncoder(load_whisper_encoder()).eval().requires_grad_(False)
    base = Wav2Vec2ForCTC.from_pretrained(str(args.student), dtype=torch.float32, mask_time_prob=0.0, layerdrop=0.0)
    sampler = CropSampler(load_clips(args.audio), batch=6, crop_seconds=6.0, seed=0)
    batches = [sampler() for _ in range(1 + args.steps)]
    agreement = state_agreement(teacher, base.eval(), batches[0])
    students = {amp: copy.deepcopy(base).train() for amp in PRECISIONS}
    optimizers = {amp: torch.optim.AdamW(students[amp].parameters(), lr=1e-5) for amp in PRECISIONS}
    for amp in PRECISIONS:  # warm-up: first calls pay for kernel selection
        train_step(teacher, students[amp], optimizers[amp], batches[0], amp=amp)
    seconds = {amp: [] for amp in PRECISIONS}
    for round_ in range(args.rounds):
        for amp in PRECISIONS[::1 if round_ % 2 == 0 else -1]:
            start = time.perf_counter()
            for raw in batches[1:]:
                train_step(teacher, students[amp], optimizers[amp], raw, amp=amp)
            seconds[amp].append((time.perf_counter() - start) / args.steps)
    ratios = paired_ratios(seconds["no"], seconds["bf16"])
    audio_per_step = float(np.mean([raw.size for raw in batches[1:]])) / SAMPLE_RATE
    rows = [{"precision": "float32" if amp == "no" else "bf16 autocast",
             "s/step (median)": statistics.median(seconds[amp]),
             "audio s per wall s": audio_per_step / statistics.median(seconds[amp]),
             "speed-up (paired, median)": statistics.median(ratios) if amp == "bf16" else 1.0} for amp in PRECISIONS]
    print_table("Distillation step, float32 and bf16 autocast", rows)
    print_table("Cosine of bf16's states to float32's, per layer", [
        {"encoder": name, **{f"layer {i + 1}": c for i, c in enumerate(values)}} for name, values in agreement.items()])
    result = {"machine": machine_info(args.threads), "student": str(args.student), "audio_s_per_step": audio_per_step,
              "seconds_per_step": seconds, "paired_speedup": ratios, "state_cosine_bf16_vs_fp32": agreement}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
