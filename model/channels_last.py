"""Wav2Vec2's convolutions computed channels-last, on the CPU.

Hugging Face's conv layers work on (batch, channels, time) tensors and transpose around every
LayerNorm and at both ends of the positional convolution. Each transposed tensor reaches the next
op non-contiguous and is copied, and oneDNN runs a 1-D convolution over channel-major memory far
below the machine's matmul rate. Keeping activations time-major and running each convolution as a
channels-last 2-D convolution over a height-1 image gives oneDNN the layout it is fastest on: on 2
CPU cores the demo model's feature encoder ran 1.2x and its positional convolution 2.6x faster
(bench/RESULTS.md). Same weights, same state-dict keys, the same function up to float rounding.

Only CPU tensors take this path; it has not been measured on GPUs, which keep Hugging Face's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2FeatureEncoder, Wav2Vec2PositionalConvEmbedding


def conv_channels_last(time_major: torch.Tensor, conv: torch.nn.Conv1d) -> torch.Tensor:
    """`conv` applied to a (batch, time, channels) tensor; the result is (batch, time, channels),
    contiguous. The (batch, channels, 1, time) view of time-major memory is channels-last, and
    oneDNN keeps that layout for its output."""
    weight = conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    out = F.conv2d(time_major.transpose(1, 2).unsqueeze(2), weight, conv.bias, stride=(1, conv.stride[0]),
                   padding=(0, conv.padding[0]), groups=conv.groups)
    return out.squeeze(2).transpose(1, 2)


class ChannelsLastFeatureEncoder(Wav2Vec2FeatureEncoder):
    """`Wav2Vec2FeatureEncoder` for `feat_extract_norm="layer"`, computed channels-last."""

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        if input_values.device.type != "cpu" or (self.gradient_checkpointing and self.training):
            return super().forward(input_values)  # GPUs, and Hugging Face's per-layer checkpointing
        first, *rest = self.conv_layers
        # One input channel: the first convolution is a matmul over strided waveform windows,
        # and it comes out time-major.
        windows = input_values.unfold(-1, first.conv.kernel_size[0], first.conv.stride[0])  # (batch, time, kernel)
        hidden = F.linear(windows, first.conv.weight.flatten(1), first.conv.bias)
        hidden = first.activation(first.layer_norm(hidden))  # (batch, time, channels), contiguous
        for layer in rest:
            hidden = layer.activation(layer.layer_norm(conv_channels_last(hidden, layer.conv)))
        return hidden.transpose(1, 2)  # (batch, channels, time), as Hugging Face's returns


class ChannelsLastPositionalConvEmbedding(Wav2Vec2PositionalConvEmbedding):
    """The grouped positional convolution on (batch, time, hidden) input, without transposes."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if hidden_states.device.type != "cpu":
            return super().forward(hidden_states)
        out = conv_channels_last(hidden_states, self.conv)
        if self.padding.num_pad_remove:  # an even kernel gives one frame too many
            out = out[:, : -self.padding.num_pad_remove]
        return self.activation(out)


def use_channels_last_convs(wav2vec2) -> None:
    """Swap a `Wav2Vec2Model`'s feature encoder and positional convolution for the channels-last
    ones, in place. The subclasses add no state, so the modules keep their parameters, hooks and
    key names. Group-norm front ends (wav2vec2-base) normalise over time, not channels: they
    have no transposes to save and keep Hugging Face's feature encoder."""
    encoder = wav2vec2.feature_extractor
    if wav2vec2.config.feat_extract_norm == "layer" and type(encoder) is Wav2Vec2FeatureEncoder:
        encoder.__class__ = ChannelsLastFeatureEncoder
    positional = wav2vec2.encoder.pos_conv_embed
    if type(positional) is Wav2Vec2PositionalConvEmbedding:
        positional.__class__ = ChannelsLastPositionalConvEmbedding
