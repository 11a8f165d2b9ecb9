"""Error rates (jiwer) and classification scores (scikit-learn) for evaluation reports."""

from __future__ import annotations

import jiwer
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from model.codec import text_to_jamo


def _nonempty(texts: list[str]) -> list[str]:
    # jiwer refuses empty references; a single space-free placeholder never matches a hypothesis.
    return [t if t.strip() else "∅" for t in texts]


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus-level WER and CER on syllables and JER (error rate over jamo, spaces ignored)."""
    refs, hyps = _nonempty(references), [h if h.strip() else "" for h in hypotheses]
    words = jiwer.process_words(refs, hyps)
    jamo_refs = _nonempty([text_to_jamo(r).replace(" ", "") for r in references])
    jamo_hyps = [text_to_jamo(h).replace(" ", "") for h in hypotheses]
    return {
        "wer": float(words.wer),
        "cer": float(jiwer.cer(refs, hyps)),
        "jer": float(jiwer.cer(jamo_refs, jamo_hyps)),
        "substitutions": int(words.substitutions),
        "deletions": int(words.deletions),
        "insertions": int(words.insertions),
        "reference_words": int(sum(len(r.split()) for r in refs)),
    }


def utterance_rates(reference: str, hypothesis: str) -> tuple[float, float]:
    ref = reference if reference.strip() else "∅"
    return float(jiwer.wer(ref, hypothesis)), float(jiwer.cer(ref, hypothesis))


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
