"""Checkpoints: a Hugging Face model directory plus the trainer's state, written atomically.

A checkpoint is assembled in a temporary sibling directory and renamed into place only when
complete (a rename is atomic on one filesystem), so a crash during a save leaves the last
good checkpoint untouched. Under Ray the finished directory is handed to `ray.train.report`,
which registers it only after the copy to storage succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from distributed.state_io import load_state, save_state

STATE_NAME = "trainer_state"
COMPLETE_MARKER = "COMPLETE"
STAGING_PREFIX = ".staging-"  # a run's own folders for checkpoints being written, under its output


def write_checkpoint(directory: Path, model, codec, optimizer, scheduler, scaler, progress: dict) -> Path:
    """Save everything needed to resume into `directory` (which must not exist yet)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.save_pretrained(staging, codec)
        save_state({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else None}, staging, STATE_NAME)
        (staging / "progress.json").write_text(json.dumps(progress, indent=2), encoding="utf-8")
        (staging / COMPLETE_MARKER).write_text("", encoding="utf-8")
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def read_progress(directory) -> dict:
    return json.loads((Path(directory) / "progress.json").read_text(encoding="utf-8"))


def restore_checkpoint(directory, model, optimizer, scheduler, scaler) -> dict:
    """Load weights and trainer state into the given objects; returns the progress dict."""
    from safetensors.torch import load_file

    from model.config import WEIGHTS_NAME
    from model.network import MULTITASK_PREFIX

    directory = Path(directory)
    tensors = load_file(str(directory / WEIGHTS_NAME))
    model.asr.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(MULTITASK_PREFIX)})
    model.multitask.load_state_dict({k[len(MULTITASK_PREFIX):]: v for k, v in tensors.items() if k.startswith(MULTITASK_PREFIX)})
    state = load_state(directory, STATE_NAME)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    return read_progress(directory)


def latest_checkpoint(root) -> Path | None:
    """The newest complete checkpoint under `root` (incomplete ones are ignored)."""
    root = Path(root)
    if not root.is_dir():
        return None
    complete = [d for d in root.iterdir() if d.is_dir() and (d / COMPLETE_MARKER).exists()]
    return max(complete, key=lambda d: read_progress(d)["step"], default=None)


def prune_checkpoints(root, keep: int) -> None:
    root = Path(root)
    complete = sorted((d for d in root.iterdir() if d.is_dir() and (d / COMPLETE_MARKER).exists()),
                      key=lambda d: read_progress(d)["step"])
    for old in complete[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".checkpoint_*"):  # staging folders of a crashed save
        shutil.rmtree(stale, ignore_errors=True)


def remove_stale_staging(output) -> list[Path]:
    """Remove the staging folders a crashed save left in a run's output (called at the start of
    a run, before anything is being written); returns what was removed."""
    stale = sorted(Path(output).glob(STAGING_PREFIX + "*")) if Path(output).is_dir() else []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def replace_directory(source: Path, target: Path) -> None:
    """Copy `source` to `target`, swapping it in only when the copy is complete."""
    staging = target.with_name(f".{target.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
