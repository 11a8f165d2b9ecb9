"""Training with Ray Train on CPU: two workers, checkpoints, resume, a worker that dies."""

import json
from pathlib import Path

import pytest
import torch

from model.network import MultiTaskWav2Vec2
from tests.training_runs import records, run_training

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def train(synth_corpus, output, *flags, config=None, timeout=420, expect_failure=False, faults=None):
    return run_training(synth_corpus / "train.csv", output, *flags, valid=synth_corpus / "heldout.csv", config=config,
                        timeout=timeout, expect_failure=expect_failure, faults=faults)


def data_order(output, rank):
    return [json.loads(line) for line in (output / "data_order" / f"rank{rank}.jsonl").read_text().splitlines()]


def test_two_workers_disjoint_data_checkpoints_and_resume(tmp_path, synth_corpus):
    output = tmp_path / "run"
    options = {"log_data_order": True, "checkpoint_every": 2, "eval_every": 4, "log_every": 2,
               "batch_seconds": 8.0, "max_batch_size": 2, "loader_workers": 0, "threads_per_worker": 1}
    train(synth_corpus, output, "--num-workers", "2", "--max-steps", "4", config=options)

    # Both workers trained on disjoint halves of the epoch's batches.
    first = [data_order(output, r)[0] for r in (0, 1)]
    samples = [{i for batch in order["batches"] for i in batch} for order in first]
    assert samples[0] and samples[1] and not samples[0] & samples[1]
    assert len(samples[0] | samples[1]) == 18  # the 18 training utterances, each once
    assert len(first[0]["batches"]) == len(first[1]["batches"])

    log = records(output)
    assert any("loss_ctc" in r and "weight_gender" in r and "audio_s_per_s" in r for r in log)
    assert any("eval_cer" in r for r in log)
    checkpoints = sorted(p for p in (output / "ray").glob("checkpoint_*") if p.is_dir())
    assert checkpoints and (checkpoints[-1] / "model.safetensors").exists()
    assert MultiTaskWav2Vec2.from_pretrained(checkpoints[-1]).config.heads == ["age", "gender", "accent"]
    assert MultiTaskWav2Vec2.from_pretrained(output / "best")
    assert (output / "curves.png").stat().st_size > 10_000

    # The same command with a later stop resumes at step 4 and continues the same data order.
    train(synth_corpus, output, "--num-workers", "2", "--max-steps", "6", config=options)
    log = records(output)
    resumed = [r for r in log if r.get("event") == "resumed"]
    assert resumed and resumed[-1]["step"] == 4
    assert [r for r in log if r.get("event") == "finished"][-1]["step"] == 6
    for rank in (0, 1):
        orders = data_order(output, rank)
        before, after = orders[0], orders[-1]
        assert after["epoch"] == before["epoch"] == 0 or after["epoch"] == 1
        if after["epoch"] == before["epoch"]:
            assert after["batches"] == before["batches"][after["start_batch"]:]


def test_a_worker_that_dies_is_restarted_from_the_last_checkpoint(tmp_path, synth_corpus):
    output = tmp_path / "run"
    options = {"checkpoint_every": 2, "eval_every": 100, "log_every": 1, "batch_seconds": 8.0, "max_batch_size": 2,
               "loader_workers": 0, "threads_per_worker": 1}
    train(synth_corpus, output, "--num-workers", "2", "--max-steps", "7", config=options, faults={"fail_at_step": 5})
    assert (output / ".fault-injected").exists()  # the last rank's worker really died at step 5
    log = records(output)
    resumed = [r for r in log if r.get("event") == "resumed"]
    # Restarted from a registered checkpoint (Ray registers reports asynchronously, so the one
    # written just before the crash may not count yet), not from scratch.
    assert resumed and resumed[0]["step"] in (2, 4)
    assert [r for r in log if r.get("event") == "finished"][-1]["step"] == 7
    # The replayed steps see the same batches: their losses repeat exactly.
    losses = {}
    for record in (r for r in log if "loss_ctc" in r):
        losses.setdefault(record["step"], set()).add(round(record["loss_ctc"], 5))
    assert all(len(values) == 1 for values in losses.values())


def test_local_loop_resume_repeats_the_uninterrupted_trajectory(tmp_path, synth_corpus):
    # Half the clips heard degraded: their degradations must be drawn again the same way.
    options = {"checkpoint_every": 3, "eval_every": 3, "log_every": 1, "batch_seconds": 8.0, "loader_workers": 0,
               "augment": 0.5}
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train(synth_corpus, straight, "--no-ray", "--max-steps", "5", config=options)
    # The same run, killed (no clean-up) after its step-3 checkpoint, then started again.
    killed = {"fail_at_step": 3}
    train(synth_corpus, stopped, "--no-ray", "--max-steps", "5", config=options, faults=killed, expect_failure=True)
    train(synth_corpus, stopped, "--no-ray", "--max-steps", "5", config=options, faults=killed)
    log = records(stopped)
    assert [r["step"] for r in log if r.get("event") == "resumed"] == [3]
    assert [r for r in log if r.get("event") == "finished"][-1]["step"] == 5
    assert sorted(p.name for p in (stopped / "checkpoints").iterdir()) == ["checkpoint_0000003", "checkpoint_0000005"]

    def losses(output):
        return {r["step"]: r["loss_ctc"] for r in records(output) if "loss_ctc" in r}

    # Killed at step 3 and resumed, the run follows the uninterrupted run's loss curve.
    assert losses(stopped).keys() == losses(straight).keys() == {1, 2, 3, 4, 5}
    for step, loss in losses(straight).items():
        assert losses(stopped)[step] == pytest.approx(loss, rel=1e-4), step


def test_training_takes_the_prepared_labels_beside_its_manifest_and_a_resumed_run_keeps_its_own(tmp_path, synth_corpus):
    from data_utils.labels import LabelSet
    from data_utils.manifest import read_manifest

    # A prepared folder (as `python -m data_utils.prepare` writes one): train.csv + labels.json
    # whose classes fitting would not give (one head, in reverse order).
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    frame = read_manifest(synth_corpus / "train.csv")
    frame.to_csv(prepared / "train.csv", index=False)
    fitted = LabelSet.fit(frame).classes
    classes = {"gender": sorted(fitted["gender"], reverse=True)}
    assert classes != fitted
    LabelSet(classes).save(prepared)
    output = tmp_path / "run"
    options = {"checkpoint_every": 1, "eval_every": 100, "log_every": 1, "batch_seconds": 8.0, "loader_workers": 0,
               "threads_per_worker": 1}
    done = run_training(prepared / "train.csv", output, "--no-ray", "--max-steps", "1", config=options)
    assert f"from {prepared / 'labels.json'} (prepared beside --train)" in done.stderr
    assert LabelSet.load(output).classes == classes
    model = MultiTaskWav2Vec2.from_pretrained(output / "checkpoints" / "checkpoint_0000001")
    assert model.config.heads == ["gender"] and model.labels == classes

    # Resumed, the run keeps the classes it started with, whatever the prepared folder now says.
    LabelSet(fitted).save(prepared)
    done = run_training(prepared / "train.csv", output, "--no-ray", "--max-steps", "2", config=options)
    assert "(this run's, resumed)" in done.stderr
    assert MultiTaskWav2Vec2.from_pretrained(output / "checkpoints" / "checkpoint_0000002").labels == classes


def test_the_anchor_pulls_the_encoder_toward_its_pretrained_weights_even_across_a_resume(tmp_path, synth_corpus, model_dir):
    options = {"checkpoint_every": 3, "eval_every": 100, "log_every": 1, "batch_seconds": 8.0, "loader_workers": 0,
               "lr_encoder": 3e-3}
    anchored = {**options, "anchor_weight": 100.0}
    pretrained = ("--pretrained", str(model_dir), "--no-ray", "--max-steps", "6")
    free, straight, stopped = tmp_path / "free", tmp_path / "straight", tmp_path / "stopped"
    train(synth_corpus, free, *pretrained, config=options)
    train(synth_corpus, straight, *pretrained, config=anchored)
    killed = {"fail_at_step": 3}
    train(synth_corpus, stopped, *pretrained, config=anchored, faults=killed, expect_failure=True)
    train(synth_corpus, stopped, *pretrained, config=anchored, faults=killed)

    def drift(output):
        start = MultiTaskWav2Vec2.from_pretrained(model_dir).encoder.state_dict()
        end = MultiTaskWav2Vec2.from_pretrained(output / "checkpoints" / "checkpoint_0000006").encoder.state_dict()
        return sum(float(((end[k] - start[k]) ** 2).sum()) for k in start if start[k].is_floating_point())

    assert drift(straight) < 0.5 * drift(free)
    # The pull is measured from the pretrained weights after a resume too, not from the checkpoint's.
    anchor_losses = {r["step"]: r["loss_anchor"] for r in records(straight) if "loss_anchor" in r}
    resumed = {r["step"]: r["loss_anchor"] for r in records(stopped) if "loss_anchor" in r}
    assert anchor_losses.keys() == resumed.keys() == set(range(1, 7)) and anchor_losses[6] > 0
    for step, loss in anchor_losses.items():
        assert resumed[step] == pytest.approx(loss, rel=1e-4), step
    assert not any("loss_anchor" in r for r in records(free))


def test_frozen_blocks_keep_their_weights_and_the_blocks_above_train(tmp_path, synth_corpus, model_dir):
    options = {"checkpoint_every": 2, "eval_every": 100, "log_every": 1, "batch_seconds": 8.0, "loader_workers": 0,
               "lr_encoder": 3e-3}
    output = tmp_path / "run"
    train(synth_corpus, output, "--pretrained", str(model_dir), "--no-ray", "--max-steps", "2", "--freeze-blocks", "1",
          config=options)
    start = MultiTaskWav2Vec2.from_pretrained(model_dir).encoder.state_dict()
    end = MultiTaskWav2Vec2.from_pretrained(output / "checkpoints" / "checkpoint_0000002").encoder.state_dict()
    moved = {k for k in start if start[k].is_floating_point() and not torch.equal(start[k], end[k])}
    frozen = ("feature_extractor.", "feature_projection.", "encoder.pos_conv_embed.", "encoder.layers.0.")
    assert moved and not {k for k in moved if k.startswith(frozen)}
    assert {k for k in moved if k.startswith("encoder.layers.1.")}
    assert json.loads((output / "train_config.json").read_text())["freeze_blocks"] == 1
