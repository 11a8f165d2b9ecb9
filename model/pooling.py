"""Pooling of encoder frames into one vector per utterance, respecting the padding mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def frame_mask(frame_lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(batch,) lengths -> (batch, frames) bool, True for real frames."""
    return torch.arange(num_frames, device=frame_lengths.device)[None, :] < frame_lengths[:, None]


class MeanPooling(nn.Module):
    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class AttentionPooling(nn.Module):
    """Self-attentive pooling: a learned score per frame, softmax over the real frames only."""

    def __init__(self, hidden_size: int, attention_dim: int = 128):
        super().__init__()
        self.project = nn.Linear(hidden_size, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(torch.tanh(self.project(hidden))).squeeze(-1).float()
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = F.softmax(scores, dim=-1).nan_to_num(0.0)  # a fully padded row pools to zeros
        return torch.bmm(weights.unsqueeze(1).to(hidden.dtype), hidden).squeeze(1)


def build_pooling(kind: str, hidden_size: int) -> nn.Module:
    if kind == "attention":
        return AttentionPooling(hidden_size)
    if kind == "mean":
        return MeanPooling()
    raise ValueError(f"unknown pooling {kind!r} (attention or mean)")
