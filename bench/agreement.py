"""How alike two contenders' outputs are: identical transcripts, the character error rate
between them, and, for a model that writes little text, the per-frame CTC argmax.

A faster setting is worth having only if it writes what the reference writes; these figures say
whether it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np
import torch


def normalise_space(text: str) -> str:
    return " ".join(text.split())


def char_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float | None:
    """Total character edits / total reference characters (None when the references are all empty)."""
    from rapidfuzz.distance import Levenshtein

    edits = sum(Levenshtein.distance(r, h) for r, h in zip(references, hypotheses))
    total = sum(len(r) for r in references)
    if total == 0:
        return 0.0 if edits == 0 else None
    return edits / total


def agreement(reference: list[str], other: list[str]) -> dict:
    """Identical transcripts, CER between them, and how many differ only by characters added at
    the end (what CTC output decoded from padded frames looks like)."""
    reference = [normalise_space(t) for t in reference]
    other = [normalise_space(t) for t in other]
    return {"identical": sum(r == o for r, o in zip(reference, other)), "of": len(reference),
            "cer": char_error_rate(reference, other), "reference_chars": sum(len(r) for r in reference),
            "differ_only_at_end": sum(r != o and o.startswith(r) for r, o in zip(reference, other))}


@torch.inference_mode()
def ctc_argmax(predictor, arrays: list[np.ndarray], context: Callable = nullcontext) -> list[np.ndarray]:
    """Per-frame argmax over the CTC vocabulary on one padded batch, run as the predictor runs
    it (its precision included): frame agreement still means something when the transcripts
    are nearly empty."""
    with context():
        output = predictor.run_model(arrays)
    ids = output.ctc_logits.float().argmax(-1)
    return [ids[i, : int(n)].numpy() for i, n in enumerate(output.frame_lengths)]


def frame_agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    same = sum(int((r == o).sum()) for r, o in zip(reference, other))
    return same / max(1, sum(len(r) for r in reference))
