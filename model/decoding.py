"""CTC decoding: best path (vectorised over the batch, kept to whole syllables) and beam search
with an optional KenLM."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from model.codec import LEADS, TAILS, VOWELS, JamoCodec, jamo_to_text
from model.timestamps import WordSpan, token_runs, word_spans


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


# The syllable grammar over jamo CTC output (initial, medial, optional final; words between
# delimiters): which category of token may follow which, and which may end the text. A
# delimiter may come anywhere but inside a syllable: leading or doubled ones say nothing, and
# forbidding them would make the search invent a syllable for a confident one to follow.
_START, _DELIMITER, _LEAD, _VOWEL, _TAIL, _NEVER = range(6)
_FOLLOWS = {_LEAD: (_START, _DELIMITER, _VOWEL, _TAIL), _VOWEL: (_LEAD,), _TAIL: (_VOWEL,),
            _DELIMITER: (_START, _DELIMITER, _VOWEL, _TAIL)}
_MAY_END = (_START, _DELIMITER, _VOWEL, _TAIL)


def token_categories(codec: JamoCodec) -> np.ndarray:
    """Each vocabulary entry's place in the syllable grammar (`_NEVER` for blank, unknown and
    anything that is not a modern jamo or the word delimiter)."""
    kind = {**dict.fromkeys(LEADS, _LEAD), **dict.fromkeys(VOWELS, _VOWEL), **dict.fromkeys(TAILS, _TAIL),
            codec.word_delimiter: _DELIMITER}
    return np.array([kind.get(token, _NEVER) for token in codec.vocab])


def is_well_formed(ids: list[int], categories: np.ndarray) -> bool:
    """Whether collapsed CTC output `ids` recomposes into whole syllables and words."""
    previous = _START
    for category in categories[ids]:
        if previous not in _FOLLOWS.get(category, ()):
            return False
        previous = category
    return previous in _MAY_END


def syllable_paths(log_probs: np.ndarray, frame_lengths, codec: JamoCodec) -> list[np.ndarray]:
    """The most probable frame labelling whose collapsed text is well-formed Hangul: every
    initial followed by a medial, a final only after a medial, no word ending on a bare
    initial. Best path can say "ㄱ럼요" (a stray initial) where this says 그럼요 or 럼요,
    whichever the frames make likelier. `log_probs` (batch, frames, vocab); one array of frame
    labels per utterance, `codec.pad_id` for blank.

    A Viterbi over states (token k being said; blank after k; nothing said yet), for the whole
    batch at once. The grammar depends only on token categories, so entering a token takes the
    best state of each allowed category: O(vocab) per frame, not vocab squared. The vocabulary
    is put in category order first so that each category is a slice.
    """
    batch, frames, _ = log_probs.shape
    categories = token_categories(codec)
    order = np.argsort(categories, kind="stable")
    order = order[categories[order] != _NEVER]  # tokens the grammar never says get no state
    emit = log_probs[:, :, order]
    blank = log_probs[:, :, codec.pad_id]
    size = len(order)
    slices = {c: slice(*np.searchsorted(categories[order], [c, c + 1])) for c in (_DELIMITER, _LEAD, _VOWEL, _TAIL)}
    # States: 0..size-1 "saying order[k]", size..2*size-1 "blank after order[k]", 2*size "nothing said yet".
    start = 2 * size
    score = np.full((batch, start + 1), -np.inf, np.float32)
    score[:, start] = 0.0
    back = np.empty((frames, batch, start + 1), np.int32)
    lengths = np.asarray(frame_lengths)
    rows = np.arange(batch)
    stay_on, stay_blank = np.arange(size), np.arange(size, start)
    for t in range(frames):
        on, after = score[:, :size], score[:, size:start]
        said = on >= after  # per token: the better of its two states and which it is
        either = np.where(said, on, after)
        either_state = np.where(said, stay_on, stay_blank)
        best = {_START: (score[:, start], np.full(batch, start))}
        for c, cols in slices.items():
            k = either[:, cols].argmax(1)
            best[c] = (either[rows, cols.start + k], either_state[rows, cols.start + k])
        new = np.empty_like(score)
        new_back = back[t]
        for target, sources in _FOLLOWS.items():
            cols = slices[target]
            values = np.stack([best[c][0] for c in sources], 1)
            pick = values.argmax(1)
            enter, enter_from = values[rows, pick][:, None], np.stack([best[c][1] for c in sources], 1)[rows, pick][:, None]
            keep = on[:, cols] >= enter
            new[:, cols] = np.where(keep, on[:, cols], enter) + emit[:, t, cols]
            new_back[:, cols] = np.where(keep, stay_on[cols], enter_from)
        new[:, size:start] = either + blank[:, t, None]
        new_back[:, size:start] = either_state
        new[:, start] = score[:, start] + blank[:, t]
        new_back[:, start] = start
        done = t >= lengths  # padded frames change nothing
        new[done], new_back[done] = score[done], np.arange(start + 1)
        score = new
    state_categories = np.concatenate([categories[order], categories[order], [_START]])
    score[:, ~np.isin(state_categories, _MAY_END)] = -np.inf
    # Trace back the whole batch at once; padded frames point each state at itself.
    labels = np.append(order, [codec.pad_id] * (size + 1))  # each state's frame label
    path = np.empty((batch, frames), np.int64)
    state = score.argmax(1)
    for t in range(frames - 1, -1, -1):
        path[:, t] = labels[state]
        state = back[t, rows, state]
    return [path[b, :n] for b, n in enumerate(lengths.astype(int))]


def collapse(path: np.ndarray, blank_id: int) -> list[int]:
    """A frame labelling's CTC output: repeats merged, blanks dropped (`model.timestamps.token_runs`)."""
    return [token for token, _, _ in token_runs(path, blank_id)]


def greedy_decode(logits: torch.Tensor, frame_lengths: torch.Tensor, codec: JamoCodec, words: bool = False,
                  syllables: bool = True) -> list[Transcript]:
    """Best-path transcripts; with `words`, each word's frames and confidence as well. With
    `syllables` (and a jamo vocabulary), an utterance whose best path does not recompose into
    whole syllables is read by `syllable_paths` instead: the best path that does."""
    ids = greedy_ids(logits, frame_lengths, codec.pad_id)
    paths: list[np.ndarray | None] = [None] * len(ids)  # None: the argmax path
    categories = token_categories(codec) if syllables and codec.is_jamo else None
    redo = [i for i, seq in enumerate(ids) if categories is not None and not is_well_formed(seq, categories)]
    log_probs = torch.log_softmax(logits.float(), -1).cpu() if words or redo else None
    if redo:
        for i, path in zip(redo, syllable_paths(log_probs[redo].numpy(), frame_lengths[redo].cpu().numpy(), codec)):
            paths[i], ids[i] = path, collapse(path, codec.pad_id)
    transcripts = []
    for i, seq in enumerate(ids):
        jamo_text = codec.decode_ids(seq)
        spans = word_spans(log_probs[i], int(frame_lengths[i]), codec, paths[i]) if words else []
        transcripts.append(Transcript(jamo_to_text(jamo_text), jamo_text, spans))
    return transcripts


class GreedyDecoder:
    """Best path (`greedy_decode`) behind the decoders' one interface: `decode(logits, frame_lengths, words)`."""

    def __init__(self, codec: JamoCodec, syllables: bool = True):
        self.codec, self.syllables = codec, syllables

    def decode(self, logits: torch.Tensor, frame_lengths: torch.Tensor, words: bool = False) -> list[Transcript]:
        return greedy_decode(logits, frame_lengths, self.codec, words, self.syllables)


# pyctcdecode's label for the unknown token, dropped from its text (it needs one label per id)
_UNKNOWN_LABEL = "⁇"


class BeamDecoder:
    """pyctcdecode beam search over jamo, optionally with a KenLM n-gram over jamo words. With
    `syllables` (and a jamo vocabulary), the best beam that recomposes into whole syllables wins
    (the best beam of all where none does)."""

    def __init__(self, codec: JamoCodec, kenlm_path: str | Path | None = None, beam_width: int = 32,
                 alpha: float = 0.5, beta: float = 1.0, syllables: bool = True):
        from pyctcdecode import build_ctcdecoder

        # pyctcdecode's conventions: "" is the blank, " " the word delimiter.
        labels = ["" if t == codec.pad else " " if t == codec.word_delimiter else _UNKNOWN_LABEL if t == codec.unk else t
                  for t in codec.vocab]
        self.decoder = build_ctcdecoder(labels, kenlm_model_path=str(kenlm_path) if kenlm_path else None,
                                        alpha=alpha, beta=beta)
        self.beam_width, self.codec = beam_width, codec
        self.categories = token_categories(codec) if syllables and codec.is_jamo else None

    def best_beam(self, beams: list) -> tuple:
        """pyctcdecode's beams come best first: the first well-formed one, else the first."""
        if self.categories is not None:
            for beam in beams:
                if is_well_formed(self.codec.encode(beam[0].replace(_UNKNOWN_LABEL, "")), self.categories):
                    return beam
        return beams[0]

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
            beams = self.decoder.decode_beams(np.ascontiguousarray(row[:n]), beam_width=self.beam_width)
            text, _, frames, _, _ = self.best_beam(beams)
            jamo_text = " ".join(text.replace(_UNKNOWN_LABEL, "").split())
            spans = []
            if words:
                peak = np.exp(row[:n].max(-1))
                for word, (start, end) in frames:
                    word = word.replace(_UNKNOWN_LABEL, "")
                    if word:
                        end = max(end, start + 1)
                        spans.append(WordSpan(jamo_to_text(word), start, end, float(peak[start:end].mean())))
            out.append(Transcript(jamo_to_text(jamo_text), jamo_text, spans))
        return out
