"""Task losses and the strategies that weigh them into one training loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from data_utils.labels import IGNORE


def ctc_loss(logits: torch.Tensor, frame_lengths: torch.Tensor, labels: torch.Tensor, blank_id: int) -> torch.Tensor:
    """CTC over (batch, frames, vocab) logits; labels padded with -100.

    Log-softmax runs in float32 even under autocast (bf16 log-probabilities lose the small
    differences CTC's forward-backward sums depend on). Each utterance's loss is divided by
    its target length, then averaged (reduction="mean").
    """
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)
    target_mask = labels >= 0
    target_lengths = target_mask.sum(-1)
    targets = labels.masked_select(target_mask)
    with torch.backends.cudnn.flags(enabled=False):  # cuDNN's CTC has stricter input rules
        return F.ctc_loss(log_probs, targets, frame_lengths, target_lengths, blank=blank_id,
                          reduction="mean", zero_infinity=True)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None,
                        label_smoothing: float = 0.0) -> torch.Tensor | None:
    """Cross-entropy ignoring unknown labels (-100); None when the batch has no known label."""
    if not bool((labels != IGNORE).any()):
        return None
    return F.cross_entropy(logits.float(), labels, weight=class_weights, ignore_index=IGNORE,
                           label_smoothing=label_smoothing)


class TaskWeighting(nn.Module):
    """Combines per-task losses into one.

    - fixed: the configured weights.
    - uncertainty: Kendall, Gal & Cipolla (2018): w_t * exp(-s_t) * loss_t + s_t with a learnable
      log-variance s_t per task (trained by the optimizer with the rest of the model), times the
      configured weight w_t. s_t is clamped to +-LOG_VAR_BOUND: unbounded, a task whose loss
      nears zero drives its weight to 1/loss (gender reached 1000 against CTC 0.5 with fixed
      losses), so the bound keeps each weight within e^2.3 = 10x of its configured value.
    - dwa: dynamic weight average (Liu et al. 2019): w_t = T * softmax(r_t / temp), where r_t is
      the ratio of task t's average loss over the last two windows of `window` steps.
    """

    LOG_VAR_BOUND = 2.3

    def __init__(self, tasks: list[str], strategy: str = "fixed", fixed_weights: dict[str, float] | None = None,
                 temperature: float = 2.0, window: int = 50):
        super().__init__()
        if strategy not in ("fixed", "uncertainty", "dwa"):
            raise ValueError(f"unknown loss weighting {strategy!r} (fixed, uncertainty or dwa)")
        self.tasks, self.strategy = list(tasks), strategy
        self.temperature, self.window = temperature, window
        fixed = torch.tensor([float((fixed_weights or {}).get(t, 1.0)) for t in self.tasks])
        self.register_buffer("fixed", fixed)
        if strategy == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(len(self.tasks)))
        # DWA state lives in buffers so that it is saved and restored with checkpoints.
        self.register_buffer("dwa_sum", torch.zeros(len(self.tasks)))
        self.register_buffer("dwa_count", torch.zeros(len(self.tasks)))
        self.register_buffer("dwa_prev", torch.zeros(2, len(self.tasks)))  # [older, newer] window averages
        self.register_buffer("dwa_steps", torch.zeros((), dtype=torch.long))

    def weights(self) -> torch.Tensor:
        if self.strategy == "uncertainty":
            return torch.exp(-self.bounded_log_vars()) * self.fixed
        if self.strategy == "dwa" and bool((self.dwa_prev > 0).all()):
            ratios = self.dwa_prev[1] / self.dwa_prev[0]
            return len(self.tasks) * F.softmax(ratios / self.temperature, dim=0) * self.fixed
        return self.fixed

    def bounded_log_vars(self) -> torch.Tensor:
        return self.log_vars.clamp(-self.LOG_VAR_BOUND, self.LOG_VAR_BOUND)

    def forward(self, losses: dict[str, torch.Tensor | None]) -> tuple[torch.Tensor, dict[str, float]]:
        weights = self.weights()
        total = None
        for i, task in enumerate(self.tasks):
            loss = losses.get(task)
            if loss is None:
                continue
            term = weights[i] * loss
            if self.strategy == "uncertainty":
                term = term + self.bounded_log_vars()[i]
            total = term if total is None else total + term
        if self.training and self.strategy == "dwa":
            self._track(losses)
        if total is None:
            raise ValueError("no task produced a loss for this batch")
        return total, {task: float(w) for task, w in zip(self.tasks, weights.detach())}

    @torch.no_grad()
    def _track(self, losses: dict[str, torch.Tensor | None]) -> None:
        for i, task in enumerate(self.tasks):
            loss = losses.get(task)
            if loss is not None and torch.isfinite(loss):
                self.dwa_sum[i] += loss.detach().float()
                self.dwa_count[i] += 1
        self.dwa_steps += 1
        if int(self.dwa_steps) % self.window == 0:
            average = self.dwa_sum / self.dwa_count.clamp_min(1)
            self.dwa_prev[0] = self.dwa_prev[1]
            self.dwa_prev[1] = average
            self.dwa_sum.zero_()
            self.dwa_count.zero_()
