"""Distil whisper-base's encoder into a Wav2Vec2 student, on audio alone (no transcripts).

    python -m distributed.distill --student runs/whisper-init --audio a/train.csv b/train.csv \\
        --output runs/distill [--time-budget-min 60] [--max-steps N] [--crop-seconds 6] [--batch 6] [--amp bf16]
        [--position-free]

The teacher is whisper as it runs (log-mel, absolute positions; `model.whisper`), frozen. The
student is a `Wav2Vec2ForCTC` directory (from `model.whisper_init`), trained whole (its
raw-waveform front end, projection, relative positional convolution and the copied blocks) to
produce the teacher's hidden states after every block, DistilHuBERT's loss per layer: L1 between
the layer-normalised states plus -log sigmoid(cosine). Both hear the same augmented crop (speed
0.9-1.1, gain, noise at 5-30 dB SNR, synthetic reverberation, 8 kHz bandwidth), so the student
learns whisper's view of degraded audio too.

`--stage front-end` comes first for a fresh student: only its raw-waveform front end and
projection train, to produce whisper's conv output before the positions, and so that whisper's
own frozen blocks, reading those features with whisper's absolute positions, produce whisper's
hidden states (the same loss on the features and after every block). The conv output alone is
not enough: a front end that matched it at cosine 0.92 on held-out speech left whisper's last
state at cosine 0.33, the blocks being sensitive to what a per-channel loss weighs little. A
student whose front end speaks whisper's features leaves the whole-model stage (`--stage
blocks`, the default) to what the issue's probe measured: blocks that learn to do without
absolute positions.

The student's frame t sees samples [320 t, 320 t + receptive field), centred half a receptive
field later than whisper's frame t (centred on sample 320 t). The teacher hears the crop less
its first (half a receptive field mod 320) samples and is read that many whole frames later, so
both describe the same moment to the sample.

`--position-free` (blocks stage) subtracts from every teacher state its mean at that frame of a
crop (`positional_offsets`, estimated once from the teacher): what whisper's absolute positions
leave in the residual stream, which a student without them can only guess from the crop's edges
and a CTC reader does not need. Measured once (bench/RESULTS.md, session 26): the probe did not
move.

`--rooms varied` hears 60% of the crops in rooms from near to far (RT60 0.2-1.2 s, direct-to-reverberant
ratio -6 to +12 dB; `data_utils.augment.ROOMS`) instead of 30% in far, diffuse ones (`diffuse`, the
default and what the first runs heard): the kept student followed whisper on deeply-read-speech's
anechoic chamber as on its training speech (last-state cosine 0.92) but not in its studio and dance
studio (0.88, 0.86), its upper blocks falling behind. Measured once (bench/RESULTS.md, session 27):
those cosines rose by 0.005 and the probe did not move.

`--amp bf16` runs teacher and student under bf16 autocast (weights, loss and optimizer stay
float32): on the 2-core AVX512-BF16 machine a step ran 2.3x faster, with every state at cosine
0.9998-1.0000 to float32's (`python -m bench.distill_step`, bench/RESULTS.md). CPUs without native
bf16 emulate it slowly, hence not the default.

Checkpoints (`OUTPUT/checkpoint/`, written atomically every `--save-every-min`) hold the
student, the optimizer and the step; running the same command again resumes, so a long
distillation spans sessions. `OUTPUT/student/` is the latest student as a plain model directory.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Wav2Vec2ForCTC
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from data_utils.audio import SAMPLE_RATE, AudioError, load_audio
from data_utils.augment import ROOMS, Rooms, augment
from data_utils.batching import normalize_waveform
from data_utils.manifest import read_manifest
from distributed.checkpoint import replace_directory
from distributed.config import AMP_MODES, autocast
from distributed.state_io import load_state, save_state
from model.config import receptive_field
from model.whisper import SAMPLES_PER_FRAME, WhisperAudioEncoder, load_whisper_encoder

PROGRESS_NAME = "progress.json"


# --- data --------------------------------------------------------------------------------------

def load_clips(manifests: list[Path], min_seconds: float = 1.0) -> list[np.ndarray]:
    clips, skipped = [], 0
    for manifest in manifests:
        for path in read_manifest(manifest)["path"]:
            try:
                audio = load_audio(path)
            except AudioError as error:
                print(f"skipped: {error}")
                skipped += 1
                continue
            if len(audio) >= min_seconds * SAMPLE_RATE:
                clips.append(audio)
    print(f"{len(clips)} clips, {sum(map(len, clips)) / SAMPLE_RATE / 60:.1f} min ({skipped} unreadable)")
    return clips


class CropSampler:
    """Batches of equal-length crops: clips sorted by length, a batch from neighbours, each
    augmented, then cut to the shortest (at most `crop` samples), so nothing is padded."""

    def __init__(self, clips: list[np.ndarray], batch: int, crop_seconds: float, seed: int,
                 rooms: Rooms = ROOMS["diffuse"]):
        self.clips = sorted(clips, key=len)
        self.batch, self.crop, self.rooms = batch, int(crop_seconds * SAMPLE_RATE), rooms
        self.rng = np.random.default_rng(seed)

    def __call__(self) -> np.ndarray:
        start = int(self.rng.integers(0, max(1, len(self.clips) - self.batch + 1)))
        chosen = [augment(c, self.rng, self.rooms) for c in self.clips[start:start + self.batch]]
        length = min(self.crop, min(map(len, chosen)))
        length -= length % SAMPLES_PER_FRAME
        crops = []
        for audio in chosen:
            offset = int(self.rng.integers(0, len(audio) - length + 1))
            crops.append(audio[offset:offset + length])
        return np.stack(crops)


# --- the objective -----------------------------------------------------------------------------

def teacher_alignment(student_config) -> tuple[int, int]:
    """(frames, samples): the teacher, hearing the audio less its first `samples`, describes
    the moment of the student's frame t in its frame t + `frames`."""
    return divmod(receptive_field(student_config) // 2, SAMPLES_PER_FRAME)


def aligned(s: torch.Tensor, t: torch.Tensor, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Student and teacher states over the frames both have, the teacher read `shift` frames later."""
    t = t[:, shift:]
    frames = min(s.shape[1], t.shape[1])
    return s[:, :frames].float(), t[:, :frames].float()


def state_loss(s: torch.Tensor, t: torch.Tensor, shift: int) -> torch.Tensor:
    """DistilHuBERT's loss for one layer: mean L1 of the layer-normalised states - mean log
    sigmoid(cosine)."""
    s, t = aligned(s, t, shift)
    l1 = (F.layer_norm(s, s.shape[-1:]) - F.layer_norm(t, t.shape[-1:])).abs().mean()
    return l1 - F.logsigmoid(F.cosine_similarity(s, t, dim=-1)).mean()


def student_front_end(wav2vec2, inputs: torch.Tensor) -> torch.Tensor:
    """The student's projected conv features, (batch, frames, width): what stands in for
    whisper's conv output (the positional convolution comes after)."""
    features = wav2vec2.feature_extractor(inputs).transpose(1, 2)
    return wav2vec2.feature_projection(features)[0]


def front_end_states(teacher: WhisperAudioEncoder, student, inputs: torch.Tensor, heard: torch.Tensor,
                     shift: int) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """(student, teacher) states for the front-end stage: the student's features and whisper's
    conv output, then whisper's frozen blocks reading each (with whisper's positions for the
    frames the student's stand for)."""
    positions = teacher.encoder.embed_positions.weight
    with torch.no_grad():
        conv = teacher.convolutions(heard, torch.full((len(heard),), heard.shape[1]))
        target = teacher.blocks(conv + positions[: conv.shape[1]])
    features = student_front_end(student.wav2vec2, inputs)
    features = features[:, :conv.shape[1] - shift]
    hybrid = teacher.blocks(features + positions[shift:shift + features.shape[1]])
    return (features, *hybrid[1:]), (conv, *target[1:])


def whole_states(teacher: WhisperAudioEncoder, student, inputs: torch.Tensor, heard: torch.Tensor,
                 shift: int) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """(student, teacher) states for the blocks stage: after every block, the last after the
    final norm."""
    with torch.no_grad():
        target = teacher(heard).hidden_states
    encoded = student.wav2vec2(inputs, output_hidden_states=True)
    # transformers 5 lists the last block's output before the final norm; the teacher's last
    # state is after it, so the student's must be too
    return (*encoded.hidden_states[1:-1], encoded.last_hidden_state), target[1:]


def positional_offsets(teacher: WhisperAudioEncoder, sampler: CropSampler, student_config,
                       batches: int = 60) -> list[torch.Tensor]:
    """Per block, the teacher's mean state at each frame of a crop less its mean over all frames,
    (frames, width), from `batches` of the sampler's crops: the part of whisper's states that says
    only where a frame is (on 6-s crops of real speech, 59% of the first block's variance, 2% of
    the fifth's, 28% of the last's). Zero at frames no crop reached."""
    frames = sampler.crop // SAMPLES_PER_FRAME + 2  # more than any crop's teacher frames
    sums, counts = None, torch.zeros(frames)
    with torch.no_grad():
        for _ in range(batches):
            _, heard, _ = model_inputs(sampler(), student_config)
            states = torch.stack(teacher(heard).hidden_states[1:]).float().sum(1)  # (blocks, frames, width)
            if sums is None:
                sums = states.new_zeros(len(states), frames, states.shape[-1])
            sums[:, :states.shape[1]] += states
            counts[:states.shape[1]] += len(heard)
    overall = sums.sum(1, keepdim=True) / counts.sum()
    return list((sums / counts.clamp(min=1)[:, None] - overall) * (counts > 0)[:, None])


def frame_cosine(student_last: torch.Tensor, teacher_last: torch.Tensor, shift: int) -> float:
    return float(F.cosine_similarity(*aligned(student_last, teacher_last, shift), dim=-1).mean())


def model_inputs(raw: np.ndarray, student_config) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(student's input, teacher's input, teacher's frame shift) for a batch of equal-length crops."""
    shift, offset = teacher_alignment(student_config)
    inputs = torch.from_numpy(np.stack([normalize_waveform(a) for a in raw]))
    return inputs, torch.from_numpy(raw[:, offset:]), shift


def train_step(teacher: WhisperAudioEncoder, student, optimizer, raw: np.ndarray, stage: str = "blocks",
               amp: str = "no", offsets: list[torch.Tensor] | None = None) -> tuple[float, float]:
    """One update on a batch of equal-length crops (`CropSampler`): (loss, cosine of the last
    states). `offsets` (`positional_offsets`) are taken from the teacher's states first."""
    inputs, heard, shift = model_inputs(raw, student.config)
    with autocast(amp, "cpu"):
        states, target = (front_end_states if stage == "front-end" else whole_states)(
            teacher, student, inputs, heard, shift)
    if offsets is not None:
        target = [t - o[:t.shape[1]] for t, o in zip(target, offsets)]
    loss = torch.stack([state_loss(s, t, shift) for s, t in zip(states, target)]).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(student.parameters(), 5.0)
    optimizer.step()
    return loss.item(), frame_cosine(states[-1].detach(), target[-1], shift)


# --- the loop ----------------------------------------------------------------------------------

def learning_rate(step: int, peak: float, warmup: int, total: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_checkpoint(output: Path, student: Wav2Vec2ForCTC, optimizer, progress: dict, processor_dir: Path) -> None:
    """`output/checkpoint`, swapped in whole: the student (with the processor files of the
    directory it started from), the optimizer's state and the progress."""
    staging = Path(tempfile.mkdtemp(prefix=".checkpoint.", dir=output))
    try:
        student.save_pretrained(str(staging / "student"))
        for extra in Path(processor_dir).glob("*.json"):
            if extra.name != "config.json":
                shutil.copy(extra, staging / "student" / extra.name)
        save_state(optimizer.state_dict(), staging, "optimizer")
        (staging / PROGRESS_NAME).write_text(json.dumps(progress, indent=2), encoding="utf-8")
        replace_directory(staging, output / "checkpoint")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def distill(args, teacher: WhisperEncoder | None = None) -> dict:
    """Run (or resume) the distillation that `args` describe; `teacher` defaults to whisper-base's
    encoder from the installed packages."""
    if args.position_free and args.stage != "blocks":
        raise SystemExit("--position-free is for the blocks stage (the front-end stage feeds whisper's positions)")
    output = args.output
    output.mkdir(parents=True, exist_ok=True)
    checkpoint = output / "checkpoint"
    resuming = (checkpoint / PROGRESS_NAME).is_file()
    source = checkpoint / "student" if resuming else Path(args.student)
    progress = {"stage": args.stage, "position_free": args.position_free, "rooms": args.rooms, "step": 0, "seconds": 0.0,
                "audio_seconds": 0.0, "history": []}
    if resuming:
        progress = json.loads((checkpoint / PROGRESS_NAME).read_text(encoding="utf-8"))
        stage = progress.setdefault("stage", "blocks")  # checkpoints from before the stages were blocks
        if stage != args.stage:
            raise SystemExit(f"{checkpoint}: a {stage} stage's checkpoint; resume it with --stage {stage}, or start "
                             f"the {args.stage} stage in another --output from {checkpoint / 'student'}")
        if progress.setdefault("position_free", False) != args.position_free:
            flag = "with" if progress["position_free"] else "without"
            raise SystemExit(f"{checkpoint}: trained {flag} --position-free; resume it the same way")
        if progress.setdefault("rooms", "diffuse") != args.rooms:
            raise SystemExit(f"{checkpoint}: trained with --rooms {progress['rooms']}; resume it the same way")
    student = Wav2Vec2ForCTC.from_pretrained(str(source), dtype=torch.float32, mask_time_prob=0.0, hidden_dropout=0.0,
                                             attention_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0)
    student.train()
    teacher = WhisperAudioEncoder(teacher or load_whisper_encoder()).eval().requires_grad_(False)

    fresh = [p for n, p in student.wav2vec2.named_parameters() if not n.startswith("encoder.layers.")
             and not n.startswith("encoder.layer_norm.")]
    blocks = [p for n, p in student.wav2vec2.named_parameters() if n.startswith(("encoder.layers.", "encoder.layer_norm."))]
    optimizer = torch.optim.AdamW([{"params": fresh, "lr_scale": 1.0}, {"params": blocks, "lr_scale": args.block_lr_scale}],
                                  lr=args.lr, weight_decay=0.01)
    if resuming:
        optimizer.load_state_dict(load_state(checkpoint, "optimizer"))
        print(f"resumed at step {progress['step']} ({progress['seconds'] / 60:.1f} min so far)")

    clips = load_clips(args.audio)
    sampler = CropSampler(clips, args.batch, args.crop_seconds, seed=args.seed + progress["step"], rooms=ROOMS[args.rooms])
    offsets = None
    if args.position_free:  # its own seed, so that a resumed run subtracts the same offsets
        offsets = positional_offsets(teacher, CropSampler(clips, args.batch, args.crop_seconds, seed=0), student.config)
    started, last_save, window = time.time(), time.time(), []
    budget = args.time_budget_min * 60 if args.time_budget_min else float("inf")
    while progress["step"] < args.max_steps and time.time() - started < budget:
        step = progress["step"]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup, args.max_steps) * group["lr_scale"]
        raw = sampler()
        window.append(train_step(teacher, student, optimizer, raw, args.stage, args.amp, offsets))
        progress["step"] += 1
        progress["audio_seconds"] += raw.size / SAMPLE_RATE
        if progress["step"] % args.log_every == 0:
            loss_mean, cos_mean = np.mean(window, axis=0)
            window = []
            elapsed = progress["seconds"] + time.time() - started
            entry = {"step": progress["step"], "loss": round(float(loss_mean), 4), "cosine": round(float(cos_mean), 4),
                     "minutes": round(elapsed / 60, 2)}
            progress["history"].append(entry)
            print(json.dumps(entry), flush=True)
        if time.time() - last_save > args.save_every_min * 60:
            save_checkpoint(output, student, optimizer, {**progress, "seconds": progress["seconds"] + time.time() - started},
                            args.student)
            last_save = time.time()
    progress["seconds"] += time.time() - started
    save_checkpoint(output, student, optimizer, progress, args.student)
    return progress


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", type=Path, required=True, help="a Wav2Vec2ForCTC directory (model.whisper_init)")
    parser.add_argument("--audio", type=Path, nargs="+", required=True, help="manifests whose audio is used")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--stage", choices=["front-end", "blocks"], default="blocks",
                        help="front-end: the raw-waveform front end alone, toward whisper's conv output and through "
                             "whisper's frozen blocks (first, for a fresh student); blocks: the whole student toward "
                             "whisper's hidden states")
    parser.add_argument("--max-steps", type=int, default=20000, help="the schedule's length (spans sessions)")
    parser.add_argument("--time-budget-min", type=float, default=None, help="stop this run after M minutes")
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--crop-seconds", type=float, default=6.0)
    parser.add_argument("--lr", type=float, default=5e-4, help="peak rate of the fresh front end")
    parser.add_argument("--block-lr-scale", type=float, default=0.2, help="the copied blocks' share of it")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--amp", choices=[m for m in AMP_MODES if m != "fp16"], default="no",  # fp16: no GradScaler here
                        help="bf16: autocast teacher and student (pays off where bf16 is native: model.precision)")
    parser.add_argument("--position-free", action="store_true",
                        help="blocks stage: match the teacher's states less their mean at each absolute position "
                             "(what whisper's absolute positions leave in them), so the student learns what a frame "
                             "says rather than where it is")
    parser.add_argument("--rooms", choices=sorted(ROOMS), default="diffuse",
                        help="the rooms the crops are heard in (data_utils.augment.ROOMS)")
    parser.add_argument("--save-every-min", type=float, default=5.0)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    progress = distill(args)
    print(f"done: step {progress['step']}, {progress['seconds'] / 60:.1f} min, "
          f"{progress['audio_seconds'] / 3600:.2f} h of audio heard")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
