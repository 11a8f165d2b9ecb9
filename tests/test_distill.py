"""Distillation of whisper's encoder into a Wav2Vec2 student (distributed.distill), with a tiny
random whisper as the teacher: what each stage trains, and that a run resumes where it stopped."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from transformers import Wav2Vec2ForCTC

from data_utils.audio import SAMPLE_RATE
from distributed.distill import CropSampler, distill, parse_args, positional_offsets
from model.config import encoder_config
from model.whisper import copy_blocks_into_wav2vec2
from tests.test_whisper import tiny_whisper


def tiny_student(tmp_path, teacher):
    c = teacher.config
    torch.manual_seed(1)
    student = Wav2Vec2ForCTC(encoder_config("tiny", 10, hidden_size=c.d_model, num_hidden_layers=c.encoder_layers,
                                            num_attention_heads=c.encoder_attention_heads,
                                            intermediate_size=c.encoder_ffn_dim, hidden_act="gelu"))
    copy_blocks_into_wav2vec2(teacher, student.wav2vec2.encoder)
    student.save_pretrained(str(tmp_path / "student"))
    return tmp_path / "student"


def audio_manifest(tmp_path, clips=4):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(clips):
        t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
        audio = 0.3 * np.sin(2 * np.pi * (150 + 60 * i) * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(tmp_path / f"clip{i}.wav", audio.astype(np.float32), SAMPLE_RATE)
        rows.append({"path": f"clip{i}.wav", "text": ""})
    pd.DataFrame(rows).to_csv(tmp_path / "audio.csv", index=False)
    return tmp_path / "audio.csv"


def weights(directory) -> dict[str, torch.Tensor]:
    model = Wav2Vec2ForCTC.from_pretrained(str(directory))
    # SpecAugment's mask embedding is not trained by distillation (the student loads without it)
    return {k: v.clone() for k, v in model.wav2vec2.state_dict().items() if k != "masked_spec_embed"}


def run(tmp_path, teacher, student, output, *extra):
    args = parse_args(["--student", str(student), "--audio", str(audio_manifest(tmp_path)), "--output", str(output),
                       "--batch", "2", "--crop-seconds", "1", "--warmup", "1", "--log-every", "1", *extra])
    return distill(args, teacher=teacher)


def test_the_front_end_stage_trains_the_front_end_alone(tmp_path):
    teacher = tiny_whisper()
    student = tiny_student(tmp_path, teacher)
    before = weights(student)
    progress = run(tmp_path, teacher, student, tmp_path / "out", "--stage", "front-end", "--max-steps", "3")
    after = weights(tmp_path / "out" / "checkpoint" / "student")
    assert progress["step"] == 3 and all(np.isfinite(e["loss"]) for e in progress["history"])
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    front = {k for k in before if k.startswith(("feature_extractor.", "feature_projection."))}
    assert moved and moved <= front
    assert "feature_extractor.conv_layers.0.conv.weight" in moved and "feature_projection.projection.weight" in moved


def test_the_blocks_stage_trains_the_whole_student_and_resumes(tmp_path):
    teacher = tiny_whisper()
    student = tiny_student(tmp_path, teacher)
    before = weights(student)
    run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "2")
    after = weights(tmp_path / "out" / "checkpoint" / "student")
    for key in ("feature_extractor.conv_layers.0.conv.weight", "encoder.pos_conv_embed.conv.bias",
                "encoder.layers.0.attention.q_proj.weight", "encoder.layer_norm.weight"):
        assert not torch.equal(before[key], after[key]), key
    progress = run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "4")
    assert progress["step"] == 4 and [e["step"] for e in progress["history"]] == [1, 2, 3, 4]


def test_a_checkpoint_resumes_only_in_its_own_stage(tmp_path):
    teacher = tiny_whisper()
    student = tiny_student(tmp_path, teacher)
    run(tmp_path, teacher, student, tmp_path / "out", "--stage", "front-end", "--max-steps", "1")
    with pytest.raises(SystemExit, match="front-end stage's checkpoint"):
        run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "2")


def test_bf16_autocast_trains_the_student_and_agrees_with_float32(tmp_path):
    teacher = tiny_whisper()
    student = tiny_student(tmp_path, teacher)
    before = weights(student)
    exact = run(tmp_path, teacher, student, tmp_path / "fp32", "--max-steps", "1")
    fast = run(tmp_path, teacher, student, tmp_path / "bf16", "--max-steps", "1", "--amp", "bf16")
    after = weights(tmp_path / "bf16" / "checkpoint" / "student")
    assert all(after[k].dtype == torch.float32 for k in after)  # autocast computes in bf16, keeps the weights
    assert not torch.equal(before["encoder.layers.0.attention.q_proj.weight"], after["encoder.layers.0.attention.q_proj.weight"])
    assert fast["history"][0]["loss"] == pytest.approx(exact["history"][0]["loss"], rel=0.02)
    assert fast["history"][0]["cosine"] == pytest.approx(exact["history"][0]["cosine"], abs=0.01)


class PositionTaggedTeacher:
    """A stand-in teacher whose state at frame p is the crop's loudness plus a fixed vector per
    position, as whisper's residual stream carries its absolute positions."""

    def __init__(self, width=8, frames=200, blocks=2):
        self.position = torch.randn(blocks, frames, width, generator=torch.Generator().manual_seed(0))

    def __call__(self, heard):
        frames = heard.shape[1] // 320
        loudness = heard[:, :frames * 320].reshape(len(heard), frames, 320).abs().mean(-1, keepdim=True)
        return SimpleNamespace(hidden_states=(None, *(loudness + p[:frames] for p in self.position)))


def test_positional_offsets_are_what_the_teacher_says_of_each_position(tmp_path):
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(int(rng.uniform(1, 2) * SAMPLE_RATE)).astype(np.float32) * rng.uniform(0.1, 1)
             for _ in range(8)]
    teacher = PositionTaggedTeacher()
    config = Wav2Vec2ForCTC.from_pretrained(str(tiny_student(tmp_path, tiny_whisper()))).config
    offsets = positional_offsets(teacher, CropSampler(clips, batch=2, crop_seconds=1.5, seed=0), config, batches=20)
    for position, offset in zip(teacher.position, offsets):
        assert len(offset) > 1.5 * SAMPLE_RATE / 320  # room for the longest crop the sampler can cut
        reached = int(offset.abs().sum(1).gt(0).sum())
        assert 45 <= reached <= 75 and not offset[reached:].any()  # 1-1.5 s crops, less the alignment offset
        expected = position[:reached] - position[:reached].mean(0)
        # what is left is the loudness's mean, which differs between positions only by sampling
        residue = offset[:reached] - expected
        assert (residue - residue.mean(0)).abs().max() < 0.15
        assert (offset - offset.mean(0)).abs().max() > 1.0


def test_position_free_distillation_trains_and_resumes_only_position_free(tmp_path):
    teacher = tiny_whisper()
    student = tiny_student(tmp_path, teacher)
    progress = run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "2", "--position-free")
    assert progress["position_free"] and all(np.isfinite(e["loss"]) for e in progress["history"])
    with pytest.raises(SystemExit, match="trained with --position-free"):
        run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "3")
    with pytest.raises(SystemExit, match="for the blocks stage"):
        run(tmp_path, teacher, student, tmp_path / "fe", "--max-steps", "1", "--stage", "front-end", "--position-free")


def test_a_run_records_its_rooms_and_resumes_only_in_them(tmp_path):
    teacher = tiny_whisper()
    student = tiny_student(tmp_path, teacher)
    progress = run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "1", "--rooms", "varied")
    assert progress["rooms"] == "varied"
    with pytest.raises(SystemExit, match="trained with --rooms varied"):
        run(tmp_path, teacher, student, tmp_path / "out", "--max-steps", "2")
