"""The multi-task configuration: everything about the model that is not the encoder.

Saved as `multitask_config.json` next to the weights; the encoder keeps its own `config.json`
(a `transformers.Wav2Vec2Config`, so the directory stays loadable by Hugging Face tools, or a
`WhisperConfig` for the `whisper` encoder: its `model_type` names the encoder), and the heads'
classes are `data_utils.labels.LabelSet`'s `labels.json`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from data_utils.manifest import HEADS

CONFIG_NAME = "multitask_config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class MultiTaskConfig:
    heads: list[str] = field(default_factory=lambda: list(HEADS))
    pooling: Literal["attention", "mean"] = "attention"
    layer_weighting: Literal["weighted", "last"] = "weighted"  # SUPERB-style softmax over layers, or the last
    shared_dim: int = 256
    head_dim: int = 128
    head_dropout: float = 0.1
    # fixed by default: measured on the demo preset, uncertainty weighting let the heads' easy
    # losses halve the CTC weight (distributed/train.py)
    loss_weighting: Literal["fixed", "uncertainty", "dwa"] = "fixed"
    task_weights: dict[str, float] = field(default_factory=lambda: {"ctc": 1.0, "age": 0.3, "gender": 0.3, "accent": 0.3})
    dwa_temperature: float = 2.0
    dwa_window: int = 50  # steps per DWA "epoch" of averaged losses
    label_smoothing: float = 0.0
    class_weights: dict[str, list[float]] | None = None  # per head, in label order
    # Words whose confidence (mean best-path posterior) is under this are marked for checking: a
    # property of the model, calibrated on its held-out speech with bench/confidence.py.
    low_confidence: float = 0.9

    def save(self, directory) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory) -> MultiTaskConfig:
        data = json.loads((Path(directory) / CONFIG_NAME).read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --- encoder presets ---------------------------------------------------------------------------
# tiny: for tests (seconds on a CPU). demo: the bundled model, trained from scratch on CPU: a
# cheap 5-layer conv front end (stride 320, 20 ms frames) with layer norm and a pre-LN
# transformer, which trains stably at a high learning rate. base: wav2vec2-base's shape, for
# fine-tuning from a pretrained checkpoint on GPUs. whisper: whisper-base's blocks (512 wide, 6
# deep, 8 heads, FFN 2048, exact GELU) behind the demo's cheap raw-waveform front end widened to
# 512, and a 128-frame relative positional convolution; `model.whisper_init` fills the blocks.
ENCODER_PRESETS: dict[str, dict] = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                 conv_dim=(32, 32, 32, 32), conv_kernel=(10, 8, 4, 4), conv_stride=(5, 4, 4, 4),
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    "demo": dict(hidden_size=256, num_hidden_layers=6, num_attention_heads=4, intermediate_size=1024,
                 conv_dim=(128, 128, 256, 256, 256), conv_kernel=(20, 8, 4, 4, 4), conv_stride=(10, 4, 2, 2, 2),
                 num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=16),
    "whisper": dict(hidden_size=512, num_hidden_layers=6, num_attention_heads=8, intermediate_size=2048,
                    hidden_act="gelu", layer_norm_eps=1e-5,
                    conv_dim=(128, 128, 256, 256, 512), conv_kernel=(20, 8, 4, 4, 4), conv_stride=(10, 4, 2, 2, 2),
                    num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                 num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16),
}


def encoder_config(preset: str, vocab_size: int, pad_token_id: int = 0, **overrides):
    """A `Wav2Vec2Config` for a preset, with the jamo vocabulary and SpecAugment settings."""
    from transformers import Wav2Vec2Config

    if preset not in ENCODER_PRESETS:
        raise ValueError(f"unknown preset {preset!r}: {', '.join(ENCODER_PRESETS)}")
    settings = dict(
        vocab_size=vocab_size, pad_token_id=pad_token_id, ctc_loss_reduction="mean", ctc_zero_infinity=True,
        feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        hidden_dropout=0.05, attention_dropout=0.05, activation_dropout=0.0, feat_proj_dropout=0.05,
        final_dropout=0.0, layerdrop=0.0,
        apply_spec_augment=True, mask_time_prob=0.05, mask_time_length=5, mask_feature_prob=0.0, mask_feature_length=10,
    )
    settings.update(ENCODER_PRESETS[preset])
    settings.update(overrides)
    return Wav2Vec2Config(**settings)


def load_encoder_config(path_or_hub_id, **overrides):
    """The encoder configuration of a model directory (its config.json): a `Wav2Vec2Config`,
    or a `WhisperConfig` for the `whisper` encoder, as its `model_type` says."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(path_or_hub_id), **overrides)


def is_whisper(encoder_config) -> bool:
    return encoder_config.model_type == "whisper"


def receptive_field(encoder_config) -> int:
    """Samples one output frame of the front end sees: the shortest input it accepts (for
    whisper's, one STFT window: its convolutions over the log-mel pad)."""
    if is_whisper(encoder_config):
        from model.whisper import N_FFT

        return N_FFT
    field, jump = 1, 1
    for kernel, stride in zip(encoder_config.conv_kernel, encoder_config.conv_stride):
        field += (kernel - 1) * jump
        jump *= stride
    return field


def max_input_seconds(encoder_config) -> float | None:
    """The longest input the encoder takes at once: whisper's absolute positions end at 30 s;
    a Wav2Vec2 encoder's relative positions have no end (None)."""
    if is_whisper(encoder_config):
        from data_utils.audio import SAMPLE_RATE
        from model.whisper import SAMPLES_PER_FRAME

        return encoder_config.max_source_positions * SAMPLES_PER_FRAME / SAMPLE_RATE
    return None


def frame_samples(encoder_config) -> int:
    """Samples between two output frames (320: 20 ms at 16 kHz, for every preset and whisper)."""
    if is_whisper(encoder_config):
        from model.whisper import SAMPLES_PER_FRAME

        return SAMPLES_PER_FRAME
    return math.prod(encoder_config.conv_stride)
