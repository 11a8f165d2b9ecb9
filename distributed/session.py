"""Where the training loop runs: a Ray Train worker, or a plain process.

Both give the loop the same four things: its rank and world size, its device, the checkpoint
to resume from, and a way to report metrics with a finished checkpoint. `current_session`
picks the one the loop is running in.
"""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from pathlib import Path

import torch

from distributed.checkpoint import latest_checkpoint, prune_checkpoints
from distributed.config import TrainConfig


class LocalSession:
    """Stand-in for Ray Train when the loop runs in a single process: checkpoints go to
    `OUTPUT/checkpoints/`, and the newest complete one is resumed."""

    rank, world_size = 0, 1

    def __init__(self, config: TrainConfig):
        self.root = Path(config.output) / "checkpoints"
        self.keep = config.keep_checkpoints
        self.device = torch.device("cuda" if config.use_gpu and torch.cuda.is_available() else "cpu")

    def checkpoint_dir(self):
        return nullcontext(latest_checkpoint(self.root))

    def report(self, metrics: dict, checkpoint: Path | None) -> None:
        if checkpoint is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            target = self.root / checkpoint.name
            if target.exists():  # the same step saved again after a resume
                shutil.rmtree(target)
            os.replace(checkpoint, target)
            prune_checkpoints(self.root, self.keep)

    def prepare(self, model):
        return model.to(self.device)


class RaySession:
    def __init__(self, config: TrainConfig):
        import ray.train
        import ray.train.torch

        self.train, self.torch = ray.train, ray.train.torch
        context = ray.train.get_context()
        self.rank, self.world_size = context.get_world_rank(), context.get_world_size()
        self.device = ray.train.torch.get_device()

    def checkpoint_dir(self):
        checkpoint = self.train.get_checkpoint()
        return checkpoint.as_directory() if checkpoint else nullcontext(None)

    def report(self, metrics: dict, checkpoint: Path | None) -> None:
        ray_checkpoint = self.train.Checkpoint.from_directory(str(checkpoint)) if checkpoint else None
        self.train.report(metrics, checkpoint=ray_checkpoint, checkpoint_dir_name=checkpoint.name if checkpoint else None)
        if checkpoint is not None:
            shutil.rmtree(checkpoint.parent, ignore_errors=True)  # Ray has copied it to storage

    def prepare(self, model):
        return self.torch.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})


def current_session(config: TrainConfig):
    try:
        import ray.train

        ray.train.get_context()
    except (ImportError, RuntimeError):
        return LocalSession(config)
    return RaySession(config)
