"""Word and syllable times, and confidence, from the CTC frame posteriors along the decoded path.

The path is the argmax one, or the one `model.decoding.syllable_paths` kept to whole syllables.
Each emitted token owns the run of frames on which the path says it (a CTC spike, plus
its repeats); a syllable spans its jamo's runs, a word its syllables'. Times are frame indices
here (`Predictor` turns them into seconds and adds where the chunk starts in its recording).
A word's confidence is the mean, over its tokens' frames, of the path's posterior there:
the model's own certainty about what it said, which is low where it hesitates between tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from model.codec import JamoCodec, syllable_spans


@dataclass
class Span:
    text: str
    start: int  # first frame
    end: int  # one past the last frame
    confidence: float


@dataclass
class WordSpan(Span):
    syllables: list[Span] = field(default_factory=list)


def token_runs(best: np.ndarray, blank_id: int) -> list[tuple[int, int, int]]:
    """(token id, first frame, end frame) for each token the best path emits."""
    runs, start = [], 0
    for i in range(1, len(best) + 1):
        if i == len(best) or best[i] != best[i - 1]:
            if best[start] != blank_id:
                runs.append((int(best[start]), start, i))
            start = i
    return runs


def word_spans(log_probs: torch.Tensor, frames: int, codec: JamoCodec, path: np.ndarray | None = None) -> list[WordSpan]:
    """The words of one utterance along `path` (one label per frame; the argmax path unless
    given): `log_probs` (frames, vocab), `frames` valid."""
    probs = log_probs[:frames].float().exp().cpu().numpy()
    best = probs.argmax(-1) if path is None else np.asarray(path)[:frames]
    peak = probs[np.arange(frames), best]
    words, current = [], []
    for token, start, end in token_runs(best, codec.pad_id) + [(codec.word_delimiter_id, frames, frames)]:
        if token == codec.word_delimiter_id or token is None:
            if current:
                words.append(_word(current, peak, codec))
            current = []
        elif codec.decode_ids([token]):  # unknown and special tokens say nothing
            current.append((codec.decode_ids([token]), start, end))
    return words


def _word(tokens: list[tuple[str, int, int]], peak: np.ndarray, codec: JamoCodec) -> WordSpan:
    def confidence(parts):
        frames = np.concatenate([np.arange(s, e) for _, s, e in parts])
        return float(peak[frames].mean())

    syllables = [Span(text, tokens[first][1], tokens[last][2], confidence(tokens[first:last + 1]))
                 for text, first, last in syllable_spans([t for t, _, _ in tokens])]
    return WordSpan("".join(s.text for s in syllables), tokens[0][1], tokens[-1][2], confidence(tokens), syllables)
