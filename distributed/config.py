"""The training configuration: one dataclass, saved as `train_config.json` in the run folder."""

from __future__ import annotations

import dataclasses
import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

AMP_MODES = ("bf16", "fp16", "no")


def autocast(amp: str, device_type: str):
    """The context the forward pass runs in for an `amp` setting: bf16 or fp16 autocast, or none."""
    import torch  # here: the training CLI reads its config before it pays for torch

    from model.precision import bf16_autocast

    if amp == "no":
        return nullcontext()
    if amp == "bf16":
        return bf16_autocast(device_type)
    return torch.autocast(device_type=device_type, dtype=torch.float16)


# Each preset's training defaults, beneath a config file and the command-line flags.
PRESET_DEFAULTS = {
    # Tests: a few seconds per step on a CPU.
    "tiny": dict(batch_seconds=16.0, warmup_steps=10, eval_every=20, checkpoint_every=10, log_every=5),
    # The bundled demo model (see README): from scratch on a 2-core CPU.
    # Fixed task weights: uncertainty weighting let the heads' easy losses halve the CTC weight.
    "demo": dict(batch_seconds=40.0, warmup_steps=300, lr_encoder=2e-3, lr_heads=2e-3, eval_every=500,
                 checkpoint_every=100, log_every=20, eval_max_utterances=200,
                 multitask={"loss_weighting": "fixed", "task_weights": {"ctc": 1.0, "age": 0.3, "gender": 0.5, "accent": 0.3}}),
    # Fine-tuning a pretrained wav2vec2-base-sized checkpoint on GPUs.
    "base": dict(batch_seconds=200.0, warmup_steps=500, lr_encoder=3e-5, lr_heads=1e-3, amp="bf16",
                 freeze_feature_encoder=True, eval_every=1000, checkpoint_every=500, log_every=50,
                 encoder_overrides={"mask_time_prob": 0.05, "layerdrop": 0.05}),
    # Fine-tuning the whisper-initialised student (model.whisper_init, distributed.distill) on a
    # CPU: its front end was distilled, so it stays frozen; distillation saved it with dropout
    # and SpecAugment off, so they are set again here.
    "whisper": dict(batch_seconds=60.0, warmup_steps=100, lr_encoder=1e-4, lr_heads=1e-3,
                    freeze_feature_encoder=True, eval_every=100, checkpoint_every=50, log_every=10,
                    eval_max_utterances=100,
                    multitask={"loss_weighting": "fixed", "task_weights": {"ctc": 1.0, "age": 0.3, "gender": 0.3, "accent": 0.3}},
                    encoder_overrides={"mask_time_prob": 0.05, "mask_time_length": 5, "hidden_dropout": 0.05,
                                       "attention_dropout": 0.05, "feat_proj_dropout": 0.05}),
    # Fine-tuning whisper-base's encoder as whisper runs it (model.whisper_init --as whisper; the
    # `whisper` encoder): its weights are pretrained on real speech, so the encoder moves slowly
    # behind a fresh CTC head; its convolutions over the log-mel stay frozen. Whisper's own names
    # for dropout and SpecAugment (on mel frames: 10 of 10 ms each).
    "whisper-encoder": dict(batch_seconds=30.0, warmup_steps=50, lr_encoder=5e-5, lr_heads=2e-3,
                            freeze_feature_encoder=True, eval_every=100, checkpoint_every=50, log_every=10,
                            eval_max_utterances=100,
                            multitask={"loss_weighting": "fixed", "task_weights": {"ctc": 1.0, "age": 0.3, "gender": 0.3, "accent": 0.3}},
                            encoder_overrides={"apply_spec_augment": True, "mask_time_prob": 0.05, "mask_time_length": 10,
                                               "dropout": 0.05, "attention_dropout": 0.05}),
}

# Test-only fields that TrainConfig had before fault injection moved to `distributed.faults`:
# null in every real run's saved train_config.json, so such a file still loads (a value is refused).
RETIRED_FIELDS = ("fail_at_step", "inject_nonfinite_every")


@dataclass
class TrainConfig:
    train: str = ""
    valid: str = ""
    output: str = "runs/run"
    preset: str = "demo"  # encoder shape when training from scratch (model.config.ENCODER_PRESETS)
    pretrained: str | None = None  # a Wav2Vec2 checkpoint (dir or Hub id) to start the encoder from
    encoder_overrides: dict = field(default_factory=dict)  # Wav2Vec2Config fields (SpecAugment, dropout...)
    multitask: dict = field(default_factory=dict)  # MultiTaskConfig fields
    class_weights: bool = False  # balanced class weights from the training manifest
    augment: float = 0.0  # share of training clips heard degraded (data_utils.augment: speed, room, band, noise)
    # optimisation
    lr_encoder: float = 1e-3
    lr_heads: float = 1e-3
    weight_decay: float = 0.0
    # L2-SP (Li et al., 2018): anchor_weight / 2 * ||encoder - its starting weights||^2 joins the
    # loss, so fine-tuning on little data keeps what the pretrained encoder knew
    anchor_weight: float = 0.0
    warmup_steps: int = 300
    final_lr_fraction: float = 0.05
    max_steps: int | None = None
    epochs: float | None = None
    time_budget_min: float | None = None
    target_cer: float | None = None  # stop at the first evaluation whose validation CER is at most this
    batch_seconds: float = 60.0  # padded audio seconds per batch per worker
    max_batch_size: int | None = None
    grad_accum: int = 1
    grad_clip: float = 5.0
    amp: str = "no"  # one of AMP_MODES (`autocast`)
    fp16_init_scale: float = 2.0**16  # GradScaler's first loss scale (fp16 only)
    freeze_feature_encoder: bool = False
    # Partial fine-tuning: the front end and the lowest N transformer blocks keep their starting
    # weights. Measured on the whisper encoder (bench/RESULTS.md, step 9): lower blocks moved back
    # toward whisper-base read unseen rooms and voices better, upper ones carry the Korean.
    freeze_blocks: int = 0
    gradient_checkpointing: bool = False
    seed: int = 0
    # infrastructure
    num_workers: int = 1
    use_gpu: bool = False
    cpus_per_worker: int = 1
    loader_workers: int = 1
    threads_per_worker: int | None = None
    decode_num_proc: int = 1
    max_seconds: float = 30.0  # longer training utterances are reported and left out
    # bookkeeping
    log_every: int = 20
    eval_every: int = 500
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    eval_max_utterances: int | None = None
    log_data_order: bool = False  # write OUTPUT/data_order/rank*.jsonl: the batches each rank trained on

    def save(self, directory) -> Path:
        path = Path(directory) / "train_config.json"
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = {k: v for k, v in data.items() if not (k in RETIRED_FIELDS and v is None)}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def encoder_config(self):
        """The run's encoder configuration: the pretrained checkpoint's, or the preset's."""
        from model.config import ENCODER_PRESETS, encoder_config, load_encoder_config

        if self.pretrained:
            return load_encoder_config(self.pretrained, **self.encoder_overrides)
        if self.preset not in ENCODER_PRESETS:  # a preset of training defaults only
            raise ValueError(f"preset {self.preset!r} fine-tunes a pretrained model only: give --pretrained DIR")
        return encoder_config(self.preset, vocab_size=1, **self.encoder_overrides)

    def utterance_limits(self) -> dict:
        """Which utterances the datasets keep: none longer than `max_seconds` or than the
        encoder takes at once, none shorter than one frame's receptive field plus, with
        SpecAugment on, one mask span (transformers refuses a batch shorter than the span, and
        a clip that short teaches nothing)."""
        from model.config import frame_samples, max_input_seconds, receptive_field

        encoder = self.encoder_config()
        longest = min(self.max_seconds, max_input_seconds(encoder) or float("inf"))
        masked = getattr(encoder, "apply_spec_augment", False) and getattr(encoder, "mask_time_prob", 0) > 0
        span = encoder.mask_time_length * frame_samples(encoder) if masked else 0
        return dict(max_seconds=longest, min_samples=receptive_field(encoder) + span)

    @classmethod
    def load(cls, path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
