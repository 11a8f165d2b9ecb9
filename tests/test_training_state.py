"""Training state across a resume: where the optimizer's state lands, what a crashed save leaves."""

from contextlib import nullcontext

import torch

from distributed.checkpoint import write_checkpoint
from distributed.loop import prepare_and_resume
from model.codec import JamoCodec
from model.network import MultiTaskWav2Vec2


class MovingSession:
    """A session whose `prepare` changes where the parameters live. A CPU-only machine has no
    second device, so a change of dtype stands in for the move to a GPU: `Optimizer.load_state_dict`
    casts the state to each parameter's device and dtype alike."""

    rank, world_size = 0, 1

    def __init__(self, checkpoint):
        self.checkpoint = checkpoint

    def checkpoint_dir(self):
        return nullcontext(self.checkpoint)

    def prepare(self, model):
        return model.to(torch.float64)


class NoLog:
    def write(self, record):
        pass


def trained_once(model_dir):
    model = MultiTaskWav2Vec2.from_pretrained(model_dir).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    out = model(torch.randn(2, 8000), labels=torch.tensor([[5, 6], [7, -100]]))
    out.loss.backward()
    optimizer.step()
    return model, optimizer, scheduler


def test_resumed_optimizer_state_lives_where_its_parameters_do(model_dir, tmp_path):
    model, optimizer, scheduler = trained_once(model_dir)
    checkpoint = write_checkpoint(tmp_path / "checkpoint_0000001", model, JamoCodec(), optimizer, scheduler, None,
                                  {"step": 1, "epoch": 0, "batch_in_epoch": 1, "best_cer": None,
                                   "train_seconds": 1.0, "skipped_batches": 0})
    fresh, optimizer, scheduler = trained_once(model_dir)
    optimizer.state.clear()
    model, progress = prepare_and_resume(MovingSession(checkpoint), fresh, optimizer, scheduler, None, NoLog())
    assert progress["step"] == 1
    checked = 0
    for group in optimizer.param_groups:
        for param in group["params"]:
            for value in optimizer.state[param].values():
                if torch.is_tensor(value) and value.dim():
                    assert (value.device, value.dtype) == (param.device, param.dtype)
                    checked += 1
    assert checked > 0


def test_a_run_removes_the_staging_folders_of_a_crashed_save(tmp_path, monkeypatch):
    import distributed.loop as loop

    output = tmp_path / "run"
    left = output / ".staging-abc123" / "checkpoint_0000004"
    left.mkdir(parents=True)
    (left / "model.safetensors").write_bytes(b"half written")
    (output / "keep.txt").write_text("not ours to remove")

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(loop, "LabelSet", type("L", (), {"load": staticmethod(stop)}))
    config = {"train": "x.csv", "output": str(output)}
    try:
        loop.train_func(config)
    except Stop:
        pass
    assert not list(output.glob(".staging-*")) and (output / "keep.txt").exists()


def noise_corpus(folder, lengths, text="가나 다라"):
    """A manifest of noise clips of the given lengths in samples (training only needs shapes)."""
    import numpy as np

    from data_utils.audio import write_wav

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = ["path,text,gender"]
    for i, n in enumerate(lengths):
        write_wav(folder / f"{i:03d}.wav", rng.normal(0, 0.1, int(n)).astype(np.float32))
        rows.append(f"{i:03d}.wav,{text},{'female' if i % 2 else 'male'}")
    (folder / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "train.csv"


def test_each_epochs_last_accumulation_window_closes_on_its_own_last_batch(tmp_path):
    import json
    import math

    import numpy as np

    from tests.training_runs import records, run_training

    # 60 clips whose length-grouped batches number 17, 17, 18 in epochs 0, 1, 2 (seed 0, 3.3 s).
    lengths = (np.random.default_rng(2).uniform(0.3, 1.2, 60) * 16000).astype(int)
    manifest = noise_corpus(tmp_path / "corpus", lengths)
    output = tmp_path / "run"
    run_training(manifest, output, "--no-ray", "--max-steps", "30", config={
        "grad_accum": 2, "batch_seconds": 3.3, "log_data_order": True, "eval_every": 1000, "checkpoint_every": 1000,
        "log_every": 1, "loader_workers": 0, "threads_per_worker": 1, "warmup_steps": 1})
    epochs = [json.loads(line) for line in (output / "data_order" / "rank0.jsonl").read_text().splitlines()]
    counts = [len(e["batches"]) for e in epochs][:3]  # the fourth epoch is cut short by max-steps
    assert len(set(counts)) > 1, counts  # the case this test is about
    steps = [r["epoch"] for r in records(output) if "loss_ctc" in r]
    assert [steps.count(e) for e in range(3)] == [math.ceil(n / 2) for n in counts]


def test_clips_shorter_than_the_front_end_are_left_out_with_a_reason(tmp_path):
    from tests.training_runs import run_training

    manifest = noise_corpus(tmp_path / "corpus", [100] + [16000] * 5)
    done = run_training(manifest, tmp_path / "run", "--no-ray", "--max-steps", "2", config={
        "batch_seconds": 4.0, "eval_every": 1000, "loader_workers": 0, "threads_per_worker": 1})
    assert "000.wav: shorter than the model's receptive field" in done.stderr


def test_an_object_store_uri_as_run_dir_is_refused_before_anything_is_written(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "distributed.train", "--train", "x.csv", "--output", "s3://bucket/run",
                           "--no-ray"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 2 and "a URI is not supported" in done.stderr
    assert not (tmp_path / "s3:").exists()


def test_a_config_saved_before_fault_injection_left_it_still_loads(tmp_path):
    import dataclasses
    import json

    import pytest

    from distributed.config import TrainConfig

    saved = {**dataclasses.asdict(TrainConfig()), "fail_at_step": None, "inject_nonfinite_every": None}
    (tmp_path / "train_config.json").write_text(json.dumps(saved))
    assert TrainConfig.load(tmp_path / "train_config.json") == TrainConfig()
    with pytest.raises(ValueError, match="unknown training option.*fail_at_step"):
        TrainConfig.from_dict({"fail_at_step": 3})  # faults come from distributed.faults only
