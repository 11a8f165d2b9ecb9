"""Error rates (jiwer) and classification scores (scikit-learn) for evaluation reports.

Korean results are quoted as CER with spaces removed and as space-normalised WER, because Korean
spacing is inconsistent even in references (KsponSpeech in ESPnet, kospeech, K-wav2vec):

- `cer_nospace`: character error rate after NFC, with every space and punctuation mark removed
  from both sides;
- `swer`: WER after the hypothesis is re-spaced to the reference's spacing: both are stripped of
  spaces and punctuation, their characters aligned by edit distance, and a space put into the
  hypothesis after each character aligned with a reference character that a space followed
  (`respace`); so spacing alone never counts, but a wrong character still costs its word.

`cer` and `wer` are the raw ones, on the strings as they are.
"""

from __future__ import annotations

import unicodedata

import jiwer
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from model.codec import text_to_jamo


def _nonempty(texts: list[str]) -> list[str]:
    # jiwer refuses empty references; a single space-free placeholder never matches a hypothesis.
    return [t if t.strip() else "∅" for t in texts]


def scored_characters(text: str) -> str:
    """`text` as `cer_nospace` compares it: NFC, without spaces and punctuation."""
    return "".join(c for c in unicodedata.normalize("NFC", text)
                   if not c.isspace() and not unicodedata.category(c).startswith("P"))


def respace(reference: str, hypothesis: str) -> str:
    """The hypothesis's scored characters spaced as the reference is (see the module docstring)."""
    ref_words = [w for w in (scored_characters(w) for w in unicodedata.normalize("NFC", reference).split()) if w]
    ref_chars, hyp_chars = "".join(ref_words), scored_characters(hypothesis)
    if not ref_chars or not hyp_chars:
        return hyp_chars
    word_ends, total = set(), 0
    for word in ref_words[:-1]:
        total += len(word)
        word_ends.add(total - 1)  # index of a reference character followed by a space
    breaks = set()
    for chunk in jiwer.process_characters(ref_chars, hyp_chars).alignments[0]:
        if chunk.type in ("equal", "substitute"):
            for offset in range(chunk.ref_end_idx - chunk.ref_start_idx):
                if chunk.ref_start_idx + offset in word_ends:
                    breaks.add(chunk.hyp_start_idx + offset)
        elif chunk.type == "delete" and any(i in word_ends for i in range(chunk.ref_start_idx, chunk.ref_end_idx)):
            if chunk.hyp_start_idx > 0:
                breaks.add(chunk.hyp_start_idx - 1)
    return "".join(c + (" " if i in breaks and i < len(hyp_chars) - 1 else "") for i, c in enumerate(hyp_chars))


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus-level WER and CER on syllables, JER (error rate over jamo, spaces ignored), and the
    Korean-standard `cer_nospace` and `swer` (module docstring)."""
    refs, hyps = _nonempty(references), [h if h.strip() else "" for h in hypotheses]
    words = jiwer.process_words(refs, hyps)
    nospace_refs = _nonempty([scored_characters(r) for r in references])
    spaced_refs = _nonempty([" ".join(scored_characters(w) for w in r.split() if scored_characters(w)) for r in references])
    respaced = [respace(r, h) for r, h in zip(references, hypotheses)]
    jamo_refs = _nonempty([text_to_jamo(r).replace(" ", "") for r in references])
    jamo_hyps = [text_to_jamo(h).replace(" ", "") for h in hypotheses]
    return {
        "wer": float(words.wer),
        "cer": float(jiwer.cer(refs, hyps)),
        "cer_nospace": float(jiwer.cer(nospace_refs, [scored_characters(h) for h in hypotheses])),
        "swer": float(jiwer.wer(spaced_refs, respaced)),
        "jer": float(jiwer.cer(jamo_refs, jamo_hyps)),
        "substitutions": int(words.substitutions),
        "deletions": int(words.deletions),
        "insertions": int(words.insertions),
        "reference_words": int(sum(len(r.split()) for r in refs)),
    }


UTTERANCE_SCORES = ("wer", "cer", "cer_nospace", "swer")


def utterance_rates(reference: str, hypothesis: str) -> dict[str, float]:
    """One utterance's scores, named as `UTTERANCE_SCORES`."""
    rates = error_rates([reference], [hypothesis])
    return {k: rates[k] for k in UTTERANCE_SCORES}


def classification_scores(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict:
    """Accuracy, macro-F1 and the confusion matrix over the rows whose label is known."""
    pairs = [(t, p) for t, p in zip(y_true, y_pred) if t]
    if not pairs:
        return {}
    truth, pred = zip(*pairs)
    present = [c for c in classes if c in truth or c in pred]
    return {
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(f1_score(truth, pred, labels=present, average="macro", zero_division=0)),
        "n": len(pairs),
        "classes": present,
        "confusion": confusion_matrix(truth, pred, labels=present).tolist(),
    }


def wer_by_group(references: list[str], hypotheses: list[str], groups: list[str]) -> dict[str, dict]:
    """WER and CER per value of a speaker attribute (rows with an unknown value are skipped)."""
    out = {}
    groups_arr = np.asarray(groups, dtype=object)
    for value in sorted({g for g in groups if g}):
        idx = np.flatnonzero(groups_arr == value)
        rates = error_rates([references[i] for i in idx], [hypotheses[i] for i in idx])
        out[value] = {"n": len(idx), "wer": rates["wer"], "cer": rates["cer"]}
    return out
