"""Layer weighting and the classification heads that read the shared encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerWeighting(nn.Module):
    """SUPERB-style learnable softmax-weighted sum over the encoder's hidden layers."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_layers))

    def forward(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        stacked = torch.stack([F.layer_norm(h, h.shape[-1:]) for h in hidden_states], dim=0)
        weights = F.softmax(self.logits, dim=0).to(stacked.dtype)
        return (weights[:, None, None, None] * stacked).sum(0)


class SharedLayer(nn.Sequential):
    """Pooled encoder vector -> features shared by every head."""

    def __init__(self, hidden_size: int, shared_dim: int, dropout: float):
        super().__init__(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, shared_dim), nn.GELU(), nn.Dropout(dropout))


class ClassificationHead(nn.Sequential):
    """A task-specific layer, then the classifier."""

    def __init__(self, shared_dim: int, head_dim: int, num_classes: int, dropout: float):
        super().__init__(nn.Linear(shared_dim, head_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(head_dim, num_classes))
