"""Does word confidence mean something? Words marked low are wrong far more often than the rest.

    python -m bench.confidence --model demo/model --data heldout.csv [--threshold 0.8]

Each hypothesis word is aligned to the reference (jiwer's word alignment, spaces as the
reference spaces them is not needed: words are compared as transcribed) and counts as wrong
unless the alignment calls it equal. A word is "low" when its confidence (the mean best-path
posterior over its frames) is under the threshold. Prints the error rate of low and other
words, and precision and recall of "low" as a detector of wrong words, for a range of
thresholds; writes bench/results/confidence.json.
"""

from __future__ import annotations

import argparse

import jiwer
import numpy as np

from bench.paths import RESULTS_DIR
from bench.report import write_json
from data_utils.manifest import read_manifest
from data_utils.text import TextNormalizer
from model.predict import Predictor

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def word_outcomes(reference: str, words) -> list[bool]:
    """For each hypothesis word, whether the alignment to the reference calls it correct."""
    hypothesis = " ".join(w.text for w in words)
    if not words:
        return []
    correct = [False] * len(words)
    alignment = jiwer.process_words(reference or "∅", hypothesis).alignments[0]
    for chunk in alignment:
        if chunk.type == "equal":
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                correct[i] = True
    return correct


def scores(confidences: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    low = confidences < threshold
    wrong = ~correct
    return {
        "threshold": threshold, "low_words": int(low.sum()), "words": len(low),
        "error_rate_low": float(wrong[low].mean()) if low.any() else None,
        "error_rate_rest": float(wrong[~low].mean()) if (~low).any() else None,
        "precision": float(wrong[low].mean()) if low.any() else None,
        "recall": float(low[wrong].mean()) if wrong.any() else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="a manifest with references (utterances training never saw)")
    parser.add_argument("--name", default="confidence.json")
    args = parser.parse_args(argv)
    frame = read_manifest(args.data)
    predictor = Predictor.from_pretrained(args.model)
    predictions = predictor.predict_files(frame["path"])
    normalize = TextNormalizer()
    confidences, outcomes = [], []
    for reference, prediction in zip(frame["text"], predictions):
        if prediction.error:
            continue
        outcomes += word_outcomes(normalize(reference) or "", prediction.words)
        confidences += [w.confidence for w in prediction.words]
    confidences, correct = np.array(confidences), np.array(outcomes, dtype=bool)
    print(f"{len(predictions)} utterances, {len(correct)} hypothesis words, {(~correct).mean():.1%} wrong")
    rows = [scores(confidences, correct, t) for t in THRESHOLDS]
    print(f"{'threshold':>9} {'low':>6} {'err(low)':>9} {'err(rest)':>9} {'precision':>9} {'recall':>7}")
    for r in rows:
        def show(v):
            return f"{v:.3f}" if v is not None else "-"
        print(f"{r['threshold']:>9} {r['low_words']:>6} {show(r['error_rate_low']):>9} {show(r['error_rate_rest']):>9} "
              f"{show(r['precision']):>9} {show(r['recall']):>7}")
    write_json(RESULTS_DIR / args.name, {"model": args.model, "data": args.data, "rows": rows,
                                         "words": len(correct), "utterances": len(predictions)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
