"""CTC decoding: greedy (vectorised over the batch) and beam search with an optional KenLM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.codec import JamoCodec, jamo_to_text


@dataclass
class Transcript:
    text: str  # syllables, for display
    jamo: str  # the model's own output, conjoining jamo with spaces between words


def greedy_ids(logits: torch.Tensor, frame_lengths: torch.Tensor, blank_id: int) -> list[list[int]]:
    """Best path: argmax per frame, merge repeats, drop blanks and padded frames.

    All of it runs as tensor operations on the whole batch; only the final split into one
    list per utterance is a Python loop (over utterances, not frames).
    """
    best = logits.argmax(-1)  # (B, T)
    frames = torch.arange(best.shape[1], device=best.device)[None, :]
    valid = frames < frame_lengths[:, None]
    changed = torch.ones_like(best, dtype=torch.bool)
    changed[:, 1:] = best[:, 1:] != best[:, :-1]
    keep = valid & changed & (best != blank_id)
    counts = keep.sum(1).tolist()
    kept = best[keep].tolist()
    out, start = [], 0
    for n in counts:
        out.append(kept[start : start + n])
        start += n
    return out


def greedy_decode(logits: torch.Tensor, frame_lengths: torch.Tensor, codec: JamoCodec) -> list[Transcript]:
    transcripts = []
    for ids in greedy_ids(logits, frame_lengths, codec.pad_id):
        jamo_text = codec.decode_ids(ids)
        transcripts.append(Transcript(jamo_to_text(jamo_text), jamo_text))
    return transcripts


class BeamDecoder:
    """pyctcdecode beam search over jamo, optionally with a KenLM n-gram over jamo words."""

    def __init__(self, codec: JamoCodec, kenlm_path: str | Path | None = None, beam_width: int = 32,
                 alpha: float = 0.5, beta: float = 1.0):
        from pyctcdecode import build_ctcdecoder

        # pyctcdecode's conventions: "" is the blank, " " the word delimiter.
        labels = ["" if t == codec.pad else " " if t == codec.word_delimiter else "⁇" if t == codec.unk else t
                  for t in codec.vocab]
        self.decoder = build_ctcdecoder(labels, kenlm_model_path=str(kenlm_path) if kenlm_path else None,
                                        alpha=alpha, beta=beta)
        self.beam_width = beam_width

    def decode(self, logits: torch.Tensor, frame_lengths: torch.Tensor) -> list[Transcript]:
        log_probs = torch.log_softmax(logits.float(), -1).cpu().numpy()
        out = []
        for row, n in zip(log_probs, frame_lengths.tolist()):
            jamo_text = " ".join(self.decoder.decode(np.ascontiguousarray(row[:n]), beam_width=self.beam_width).replace("⁇", "").split())
            out.append(Transcript(jamo_to_text(jamo_text), jamo_text))
        return out
