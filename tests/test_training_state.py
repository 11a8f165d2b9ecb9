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
