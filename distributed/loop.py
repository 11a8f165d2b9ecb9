"""The per-worker training function, readable top to bottom.

`train_func(config)` runs inside each Ray Train worker (TorchTrainer), and also on its own
without Ray (one process, same code path) for debugging and for the Ray-overhead benchmark;
`distributed.session` is the difference between the two.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from data_utils.audio import SAMPLE_RATE
from data_utils.batching import DynamicBatchSampler, audio_seconds, load_dataset, make_loader
from data_utils.labels import LabelSet
from distributed.checkpoint import (
    STAGING_PREFIX,
    remove_stale_staging,
    replace_directory,
    restore_checkpoint,
    write_checkpoint,
)
from distributed.config import TrainConfig, autocast
from distributed.evaluate import run_evaluation
from distributed.faults import FaultInjection
from distributed.session import current_session
from model.codec import JamoCodec
from model.config import MultiTaskConfig, encoder_config
from model.network import MultiTaskWav2Vec2, needs_equal_lengths

# --- pieces of the loop ---------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(config: TrainConfig, labels: LabelSet, codec: JamoCodec) -> tuple[MultiTaskWav2Vec2, dict | None]:
    multitask = MultiTaskConfig(**{"heads": list(labels.heads), **config.multitask})
    multitask.heads = [h for h in multitask.heads if h in labels.heads]
    if config.class_weights:
        from data_utils.manifest import read_manifest

        multitask.class_weights = labels.class_weights(read_manifest(config.train))
    if config.pretrained:
        return MultiTaskWav2Vec2.from_encoder(config.pretrained, multitask, labels.classes, codec, **config.encoder_overrides)
    encoder = encoder_config(config.preset, len(codec), codec.pad_id, **config.encoder_overrides)
    return MultiTaskWav2Vec2(encoder, multitask, labels.classes), None


class StartingPointAnchor:
    """L2-SP: a pull of the given parameters toward the values they had when it was made. Made
    before a resume restores the checkpoint, it holds the pretrained weights in a resumed run too."""

    def __init__(self, params: list[torch.nn.Parameter], weight: float):
        self.params, self.weight = params, weight
        self.start = [p.detach().clone() for p in params]

    def penalty(self) -> torch.Tensor:
        if self.start[0].device != self.params[0].device:  # the session has moved the model: once
            self.start = [s.to(p) for p, s in zip(self.params, self.start)]
        return 0.5 * self.weight * sum(((p - s) ** 2).sum() for p, s in zip(self.params, self.start))


def build_schedule(optimizer, config: TrainConfig, total_steps: int):
    """Linear warm-up, then linear decay to `final_lr_fraction` at `total_steps`."""
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    warmup = max(1, min(config.warmup_steps, total_steps - 1))
    return SequentialLR(optimizer, [
        LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=warmup),
        LinearLR(optimizer, start_factor=1.0, end_factor=config.final_lr_fraction, total_iters=max(1, total_steps - warmup)),
    ], milestones=[warmup])


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if it is true on one (keeps ranks in lock-step)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def record_data_order(output: Path, rank: int, progress: dict, batches: list[list[int]]) -> None:
    """Which samples this rank trains on, in order (an audit trail for sharding and resume)."""
    folder = output / "data_order"
    folder.mkdir(exist_ok=True)
    with open(folder / f"rank{rank}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"epoch": progress["epoch"], "start_batch": progress["batch_in_epoch"], "batches": batches}) + "\n")


def prepare_and_resume(session, model, optimizer, scheduler, scaler, log) -> tuple[torch.nn.Module, dict]:
    """Put the model on its device (DDP under Ray), then resume from the latest checkpoint (Ray's,
    or the local one): same step, same data order. In this order the optimizer's state, which
    `load_state_dict` casts to each parameter's device, lands on the GPU with its parameter; the
    other way round Adam's moments stayed on the CPU and the first step after a resume mixed devices."""
    model = session.prepare(model)
    core = model.module if hasattr(model, "module") else model
    progress = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best_cer": None, "train_seconds": 0.0, "skipped_batches": 0}
    with session.checkpoint_dir() as checkpoint:
        if checkpoint is not None:
            progress = restore_checkpoint(checkpoint, core, optimizer, scheduler, scaler)
            log.write({"step": progress["step"], "event": "resumed"})
    return model, progress


class MetricsLog:
    """metrics.jsonl + TensorBoard + console, on rank 0 only."""

    def __init__(self, output: Path, enabled: bool):
        self.enabled, self.path = enabled, output / "metrics.jsonl"
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(output / "tensorboard"))
            except ImportError:
                self.writer = None

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "time"):
                    self.writer.add_scalar(key, value, record["step"])
            self.writer.flush()
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in record.items() if not isinstance(v, dict)}
        print(" ".join(f"{k}={v}" for k, v in shown.items()), file=sys.stderr, flush=True)


# --- the function every worker runs --------------------------------------------------------------

def train_func(config_dict: dict) -> None:
    config = TrainConfig.from_dict(config_dict)
    session = current_session(config)
    rank, world_size, device = session.rank, session.world_size, session.device
    output = Path(config.output)
    if config.threads_per_worker:
        torch.set_num_threads(config.threads_per_worker)
    seed_everything(config.seed + rank)
    log = MetricsLog(output, enabled=rank == 0)
    if rank == 0:
        remove_stale_staging(output)  # what a process killed during a save left
    faults = FaultInjection.from_env()  # none outside the tests
    timings = {"data_s": 0.0, "compute_s": 0.0, "eval_s": 0.0, "checkpoint_s": 0.0}

    # Data: the driver has already decoded and cached both manifests, so this is a memory map.
    codec = JamoCodec()
    labels = LabelSet.load(output)  # the driver's choice (distributed.train.run_labels)
    encoder = config.encoder_config()
    limits = dict(num_proc=1, **config.utterance_limits())
    train_set = load_dataset(config.train, labels, codec, **limits)
    valid_set = load_dataset(config.valid, labels, codec, **limits) if config.valid else None
    sampler = DynamicBatchSampler(train_set.lengths, config.batch_seconds, seed=config.seed, rank=rank,
                                  world_size=world_size, max_batch_size=config.max_batch_size,
                                  equal_lengths=needs_equal_lengths(encoder))
    if config.max_steps:
        total_steps = config.max_steps
    elif config.epochs:  # for the schedule: epoch 0's batch count stands for every epoch's
        total_steps = math.ceil(config.epochs * len(sampler) / config.grad_accum)
    else:  # a time budget alone: keep the learning rate flat after warm-up
        total_steps = 10**9

    # Model, optimizer (separate learning rates for the encoder and the heads), schedule, scaler.
    model, load_report = build_model(config, labels, codec)
    if load_report and rank == 0:
        print(f"loaded encoder from {config.pretrained}: {json.dumps(load_report)}", file=sys.stderr)
    if config.freeze_feature_encoder:
        model.freeze_feature_encoder()
    if config.freeze_blocks:
        model.freeze_lower_blocks(config.freeze_blocks)
    if config.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    encoder_params, head_params = model.parameter_groups()
    anchor = StartingPointAnchor(encoder_params, config.anchor_weight) if config.anchor_weight > 0 else None
    optimizer = torch.optim.Adam([{"params": encoder_params, "lr": config.lr_encoder},
                                  {"params": head_params, "lr": config.lr_heads}], weight_decay=config.weight_decay)
    scheduler = build_schedule(optimizer, config, total_steps)
    scaler = torch.amp.GradScaler(device.type, init_scale=config.fp16_init_scale) if config.amp == "fp16" else None

    model, progress = prepare_and_resume(session, model, optimizer, scheduler, scaler, log)
    core = model.module if hasattr(model, "module") else model

    def save_and_report(metrics: dict) -> None:
        """Every rank calls this the same number of times; rank 0 writes the checkpoint."""
        start = time.perf_counter()
        checkpoint = None
        if rank == 0:
            staging_root = Path(tempfile.mkdtemp(dir=output, prefix=STAGING_PREFIX))
            try:
                checkpoint = write_checkpoint(staging_root / f"checkpoint_{progress['step']:07d}", core, codec,
                                              optimizer, scheduler, scaler, progress)
            except BaseException:
                shutil.rmtree(staging_root, ignore_errors=True)
                raise
        session.report(metrics, checkpoint)
        if rank == 0 and checkpoint is not None and checkpoint.parent.exists():
            shutil.rmtree(checkpoint.parent, ignore_errors=True)
        timings["checkpoint_s"] += time.perf_counter() - start

    def evaluate() -> dict:
        start = time.perf_counter()
        metrics = {}
        if rank == 0 and valid_set is not None and len(valid_set):
            summary, _ = run_evaluation(core, valid_set, labels, codec, config.batch_seconds, device, config.eval_max_utterances)
            metrics = {f"eval_{k}": v for k, v in summary.items() if isinstance(v, (int, float))}
            for head in core.config.heads:
                if f"wer_by_{head}" in summary:
                    metrics[f"eval_wer_by_{head}"] = {g: v["wer"] for g, v in summary[f"wer_by_{head}"].items()}
            if progress["best_cer"] is None or summary["cer"] < progress["best_cer"]:
                progress["best_cer"] = summary["cer"]
                with tempfile.TemporaryDirectory(dir=output) as tmp:
                    core.save_pretrained(Path(tmp) / "best", codec)
                    replace_directory(Path(tmp) / "best", output / "best")
        timings["eval_s"] += time.perf_counter() - start
        return metrics

    def write_curves() -> None:
        if rank == 0:
            from model.plots import plot_training_curves

            plot_training_curves(output / "metrics.jsonl", output / "curves.png")

    # The loop.
    model.train()
    run_start = time.perf_counter() - progress["train_seconds"]
    window = {"audio_s": 0.0, "padded_s": 0.0, "start": time.perf_counter(), "losses": {}, "n": 0}
    done = progress["step"] >= total_steps
    # One loader for the whole run: its workers persist, and each epoch's `iter(loader)` draws the
    # sampler's new order. A loader per epoch forked a new worker every epoch, which copied the
    # training process's page tables, made its memory copy-on-write, and left the epoch's first
    # batches waiting for the new worker.
    loader = make_loader(train_set, sampler, core.config.heads, num_workers=config.loader_workers,
                         pin_memory=device.type == "cuda", min_samples=limits["min_samples"],
                         augment=config.augment, seed=config.seed)
    while not done:
        sampler.set_epoch(progress["epoch"], start_batch=progress["batch_in_epoch"])
        # Length grouping with jitter gives each epoch its own batch count (106, 105, 106...):
        # the last accumulation window of this epoch closes on this epoch's last batch.
        epoch_batches = progress["batch_in_epoch"] + len(sampler)
        if config.log_data_order:
            record_data_order(output, rank, progress, list(sampler))
        fetch_start = time.perf_counter()
        for batch in loader:
            timings["data_s"] += time.perf_counter() - fetch_start
            compute_start = time.perf_counter()
            progress["batch_in_epoch"] += 1
            micro = (progress["batch_in_epoch"] - 1) % config.grad_accum
            last_micro = micro == config.grad_accum - 1 or progress["batch_in_epoch"] == epoch_batches
            faults.maybe_die(progress["step"], rank, world_size, output)

            # Randomness (dropout, SpecAugment masks) is seeded per batch, so a resumed run draws
            # exactly what an uninterrupted one would have.
            seed_everything(hash((config.seed, rank, progress["epoch"], progress["batch_in_epoch"])) % 2**31)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            head_labels = {h: batch[h] for h in core.config.heads}
            sync = nullcontext() if last_micro or not hasattr(model, "no_sync") else model.no_sync()
            with sync:
                with autocast(config.amp, device.type):
                    out = model(batch["input_values"], batch["attention_mask"], batch["labels"], head_labels)
                if anchor is not None:
                    penalty = anchor.penalty()
                    out.loss = out.loss + penalty
                    out.losses = {**(out.losses or {}), "anchor": penalty.item()}
                out.loss = faults.poison(out.loss, progress["batch_in_epoch"])
                bad = any_rank(not torch.isfinite(out.loss).item(), device)
                if bad:  # skip the batch on every rank, keep the weights
                    progress["skipped_batches"] += 1
                    optimizer.zero_grad(set_to_none=True)
                    log.write({"step": progress["step"], "event": "skipped non-finite loss", "losses": out.losses})
                else:
                    loss = out.loss / config.grad_accum
                    (scaler.scale(loss) if scaler else loss).backward()
            if last_micro and not bad:
                if scaler:
                    scaler.unscale_(optimizer)
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                if scaler:  # GradScaler skips the update on inf/NaN gradients and halves its scale
                    scale = scaler.get_scale()
                    scaler.step(optimizer)
                    scaler.update()
                    applied = scaler.get_scale() >= scale
                else:
                    applied = bool(torch.isfinite(grad_norm))
                    if applied:
                        optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if applied:
                    scheduler.step()
                    progress["step"] += 1
                else:  # identical on every rank: DDP has averaged the gradients
                    bad = True
                    progress["skipped_batches"] += 1
                    log.write({"step": progress["step"], "event": "skipped non-finite gradients",
                               "grad_norm": float(grad_norm), **({"loss_scale": scaler.get_scale()} if scaler else {})})

            timings["compute_s"] += time.perf_counter() - compute_start
            window["audio_s"] += audio_seconds(batch)
            window["padded_s"] += batch["input_values"].numel() / SAMPLE_RATE
            window["n"] += 1
            for task, value in (out.losses or {}).items():
                window["losses"][task] = window["losses"].get(task, 0.0) + value
            progress["train_seconds"] = time.perf_counter() - run_start
            step = progress["step"]
            stepped = last_micro and not bad

            if stepped and step % config.log_every == 0:
                elapsed = time.perf_counter() - window["start"]
                log.write({
                    "step": step, "epoch": progress["epoch"], "time": round(progress["train_seconds"], 1),
                    **{f"loss_{t}": v / window["n"] for t, v in window["losses"].items()},
                    **{f"weight_{t}": w for t, w in (out.task_weights or {}).items()},
                    "lr_encoder": optimizer.param_groups[0]["lr"], "lr_heads": optimizer.param_groups[1]["lr"],
                    "audio_s_per_s": window["audio_s"] * world_size / max(elapsed, 1e-9),
                    "step_time_s": elapsed / window["n"] * config.grad_accum,
                    "padding_fraction": 1 - window["audio_s"] / max(window["padded_s"], 1e-9),
                    **{k: round(v, 1) for k, v in timings.items()},
                })
                window = {"audio_s": 0.0, "padded_s": 0.0, "start": time.perf_counter(), "losses": {}, "n": 0}

            out_of_time = config.time_budget_min is not None and progress["train_seconds"] > config.time_budget_min * 60
            done = any_rank(out_of_time, device) or step >= total_steps
            if stepped and (step % config.eval_every == 0 or done):
                metrics = {"step": step, "time": round(progress["train_seconds"], 1), **evaluate()}
                log.write(metrics)
                write_curves()
                save_and_report(metrics)
                reached = config.target_cer is not None and metrics.get("eval_cer", math.inf) <= config.target_cer
                if any_rank(reached, device):  # only rank 0 evaluates
                    log.write({"step": step, "event": f"reached the target CER {config.target_cer:g}"})
                    done = True
            elif stepped and step % config.checkpoint_every == 0:
                save_and_report({"step": step})
            if done:
                break
            fetch_start = time.perf_counter()
        else:
            progress["epoch"] += 1
            progress["batch_in_epoch"] = 0
    if rank == 0:
        log.write({"step": progress["step"], "event": "finished", "skipped_batches": progress["skipped_batches"],
                   "best_cer": progress["best_cer"], **{k: round(v, 1) for k, v in timings.items()}})
