"""An n-gram language model over jamo words, written in ARPA format for KenLM / pyctcdecode.

    python -m model.lm --manifest train.csv --out lm.arpa [--order 3]

The CTC model spells words in jamo, so the LM's words are jamo strings too (the same units
pyctcdecode sees between spaces). KenLM's Python package can query models but not build
them (lmplz is a separate C++ tool), so the estimate is made here: interpolated absolute
discounting, stored in ARPA's backoff form the way SRILM stores interpolated models.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter, defaultdict
from pathlib import Path

from data_utils.text import TextNormalizer
from model.codec import text_to_jamo

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


def count_ngrams(sentences: list[list[str]], order: int) -> list[Counter]:
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        padded = [BOS] + words + [EOS]
        for n in range(1, order + 1):
            for i in range(len(padded) - n + 1):
                gram = tuple(padded[i : i + n])
                if gram != (BOS,):
                    counts[n - 1][gram] += 1
    return counts


def estimate(sentences: list[list[str]], order: int = 3, discount: float = 0.7) -> list[dict]:
    """Per order, {ngram: (log10 prob, log10 backoff or None)}."""
    counts = count_ngrams(sentences, order)
    vocabulary = [w for (w,) in counts[0]] + [UNK]
    total = sum(counts[0].values())
    # Unigrams: add-one smoothing keeps mass for <unk>.
    probs: list[dict[tuple, float]] = [{(w,): (counts[0].get((w,), 0) + 1) / (total + len(vocabulary)) for w in vocabulary}]
    for n in range(2, order + 1):
        by_history: dict[tuple, dict[str, int]] = defaultdict(dict)
        for gram, c in counts[n - 1].items():
            by_history[gram[:-1]][gram[-1]] = c
        level = {}
        for history, continuations in by_history.items():
            history_total = sum(continuations.values())
            reserved = discount * len(continuations) / history_total
            for word, c in continuations.items():
                level[history + (word,)] = (c - discount) / history_total + reserved * _lower(probs, history[1:] + (word,))
        probs.append(level)
    # Backoff weights make unseen continuations of a history sum, with the seen ones, to one.
    backoffs: list[dict[tuple, float]] = [dict() for _ in range(order)]
    for n in range(2, order + 1):
        seen: dict[tuple, list[tuple]] = defaultdict(list)
        for gram in probs[n - 1]:
            seen[gram[:-1]].append(gram)
        for history, grams in seen.items():
            kept = sum(probs[n - 1][g] for g in grams)
            lower = sum(_lower(probs, g[1:]) for g in grams)
            backoffs[n - 2][history] = max(1e-12, 1 - kept) / max(1e-12, 1 - lower)
    out = []
    for n in range(order):
        level = {gram: (math.log10(p), math.log10(backoffs[n][gram]) if gram in backoffs[n] else None)
                 for gram, p in probs[n].items()}
        if n == 0:
            level[(BOS,)] = (-99.0, math.log10(backoffs[0].get((BOS,), 1.0)))
        out.append(level)
    return out


def _lower(probs: list[dict], gram: tuple) -> float:
    """P(last word | shorter history), backing off until an order knows the n-gram."""
    while len(gram) > 1 and gram not in probs[len(gram) - 1]:
        gram = gram[1:]
    return probs[len(gram) - 1].get(gram, probs[0][(UNK,)])


def write_arpa(model: list[dict], path) -> Path:
    path = Path(path)
    lines = ["", "\\data\\"] + [f"ngram {n + 1}={len(level)}" for n, level in enumerate(model)]
    for n, level in enumerate(model):
        lines += ["", f"\\{n + 1}-grams:"]
        for gram, (logp, backoff) in sorted(level.items()):
            entry = f"{logp:.6f}\t{' '.join(gram)}"
            lines.append(entry + (f"\t{backoff:.6f}" if backoff is not None and n < len(model) - 1 else ""))
    lines += ["", "\\end\\", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def jamo_sentences(texts, normalizer: TextNormalizer | None = None) -> list[list[str]]:
    normalizer = normalizer or TextNormalizer()
    out = []
    for text in texts:
        clean = normalizer(text)
        if clean:
            out.append(text_to_jamo(clean).split())
    return out


def build_lm(manifests, out, order: int = 3) -> Path:
    from data_utils.manifest import read_manifest

    texts = [t for m in manifests for t in read_manifest(m, resolve_paths=False)["text"]]
    return write_arpa(estimate(jamo_sentences(texts), order), out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", nargs="+", required=True, help="training manifests whose transcripts train the LM")
    parser.add_argument("--out", required=True)
    parser.add_argument("--order", type=int, default=3)
    args = parser.parse_args(argv)
    print(build_lm(args.manifest, args.out, args.order))


if __name__ == "__main__":
    main()
