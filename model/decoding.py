"""CTC decoding: greedy (vectorised over the batch) and beam search with an optional KenLM."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from model.codec import JamoCodec, jamo_to_text
from model.timestamps import WordSpan, word_spans


@dataclass
class Transcript:
    text: str  # syllables, for display
    jamo: str  # the model's own output, conjoining jamo with spaces between words
    words: list[WordSpan] = field(default_factory=list)  # frames and confidence (model.timestamps)


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


def greedy_decode(logits: torch.Tensor, frame_lengths: torch.Tensor, codec: JamoCodec, words: bool = False) -> list[Transcript]:
    """Best-path transcripts; with `words`, each word's frames and confidence as well."""
    transcripts = []
    log_probs = torch.log_softmax(logits.float(), -1) if words else None
    for i, ids in enumerate(greedy_ids(logits, frame_lengths, codec.pad_id)):
        jamo_text = codec.decode_ids(ids)
        spans = word_spans(log_probs[i], int(frame_lengths[i]), codec) if words else []
        transcripts.append(Transcript(jamo_to_text(jamo_text), jamo_text, spans))
    return transcripts


class GreedyDecoder:
    """Best path (`greedy_decode`) behind the decoders' one interface: `decode(logits, frame_lengths, words)`."""

    def __init__(self, codec: JamoCodec):
        self.codec = codec

    def decode(self, logits: torch.Tensor, frame_lengths: torch.Tensor, words: bool = False) -> list[Transcript]:
        return greedy_decode(logits, frame_lengths, self.codec, words)


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

    def set_weights(self, alpha: float, beta: float) -> None:
        """The LM's weight and the word insertion bonus, without reloading the LM."""
        self.decoder.reset_params(alpha=alpha, beta=beta)

    def decode(self, logits: torch.Tensor, frame_lengths: torch.Tensor, words: bool = False) -> list[Transcript]:
        """The best beam of each utterance; with `words`, pyctcdecode's frames of each word
        (no syllable times: the beam aligns words only), and as confidence the mean best-token
        posterior over those frames."""
        log_probs = torch.log_softmax(logits.float(), -1).cpu().numpy()
        out = []
        for row, n in zip(log_probs, frame_lengths.tolist()):
            text, _, frames, _, _ = self.decoder.decode_beams(np.ascontiguousarray(row[:n]), beam_width=self.beam_width)[0]
            jamo_text = " ".join(text.replace("⁇", "").split())
            spans = []
            if words:
                peak = np.exp(row[:n].max(-1))
                for word, (start, end) in frames:
                    word = word.replace("⁇", "")
                    if word:
                        end = max(end, start + 1)
                        spans.append(WordSpan(jamo_to_text(word), start, end, float(peak[start:end].mean())))
            out.append(Transcript(jamo_to_text(jamo_text), jamo_text, spans))
        return out
