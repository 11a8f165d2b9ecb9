"""The models the benches measure, and what they cost: the weights to load (bundled or freshly
initialised) and the forward-pass FLOPs of an encoder config, counted from its shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.paths import DEMO_MODEL


def choose_weights(cache: Path) -> tuple[Path, str]:
    """The model to measure: the bundled demo model, else a freshly initialised `demo` preset model."""
    if (DEMO_MODEL / "model.safetensors").is_file():
        return DEMO_MODEL, f"bundled demo model ({DEMO_MODEL})"
    return fresh_model(cache / "fresh-demo-weights", "demo"), "freshly initialised demo preset (random weights)"


def fresh_model(directory: Path, preset: str, seed: int = 0) -> Path:
    """A randomly initialised multi-task model saved to `directory`."""
    import torch

    from model.codec import JamoCodec
    from model.config import MultiTaskConfig, encoder_config
    from model.network import MultiTaskWav2Vec2

    torch.manual_seed(seed)
    codec = JamoCodec()
    labels = {"age": ["20s", "40s", "60s"], "gender": ["female", "male"], "accent": ["gyeongsang", "jeolla", "seoul"]}
    model = MultiTaskWav2Vec2(encoder_config(preset, len(codec), codec.pad_id), MultiTaskConfig(), labels)
    return model.save_pretrained(directory, codec)


# --- FLOPs -----------------------------------------------------------------------------------------

def conv_output_lengths(config, num_samples: int) -> list[int]:
    """Frames after each feature-encoder conv layer (no padding: L_out = (L_in - K) // S + 1)."""
    lengths, length = [], num_samples
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        length = max(0, (length - kernel) // stride + 1)
        lengths.append(length)
    return lengths


def encoder_flops(config, num_samples: int) -> dict[str, float]:
    """Forward-pass FLOPs (one multiply-add = 2) of Wav2Vec2ForCTC on one utterance, by part.
    Matmuls and convolutions only: norms, activations and softmax are a few per element and
    left out, as is the tiny multi-task head (pooling + three small MLPs)."""
    lengths = conv_output_lengths(config, num_samples)
    channels = [1, *config.conv_dim]
    conv = sum(2.0 * n * channels[i] * config.conv_kernel[i] * channels[i + 1] for i, n in enumerate(lengths))
    frames, hidden, inner = lengths[-1], config.hidden_size, config.intermediate_size
    projection = 2.0 * frames * config.conv_dim[-1] * hidden
    positional = 2.0 * frames * hidden * (hidden // config.num_conv_pos_embedding_groups) * config.num_conv_pos_embeddings
    layers = config.num_hidden_layers
    dense = layers * (2.0 * frames * 4 * hidden * hidden + 2.0 * frames * 2 * hidden * inner)  # QKVO + feed-forward
    attention = layers * 2 * (2.0 * frames * frames * hidden)  # QK^T and attention x V over all heads
    ctc_head = 2.0 * frames * hidden * config.vocab_size
    parts = {"conv": conv, "projection": projection, "positional_conv": positional, "transformer_dense": dense,
             "attention": attention, "ctc_head": ctc_head}
    parts["total"] = sum(parts.values())
    return parts


def flops_for_lengths(config, lengths: Sequence[int]) -> float:
    """Useful forward FLOPs for a set of utterances (each at its own length: no padding)."""
    return float(sum(encoder_flops(config, int(n))["total"] for n in lengths))
