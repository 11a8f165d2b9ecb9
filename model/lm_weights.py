"""Choose the n-gram LM's weight (alpha) and word bonus (beta) for a model, on validation data.

    python -m model.lm_weights --model DIR --data valid.csv --lm lm.arpa [--alphas 0.2 0.5 ...]
                               [--betas 0 1 2] [--beam-width 32] [--out weights.json]

The model runs once over the manifest; every (alpha, beta) pair then only re-runs the beam
search on the stored frame posteriors, so a grid of 20 pairs costs little more than 20 beam
decodes. Prints the grid (CER without spaces) and the best pair, which `distributed.evaluate
--lm-alpha/--lm-beta`, `model.predict` and `model.export --lm` take.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch

from data_utils.audio import load_audio
from data_utils.manifest import read_manifest
from data_utils.text import TextNormalizer
from model.decoding import BeamDecoder
from model.metrics import error_rates
from model.predict import Predictor
from model.segments import batches_by_seconds

DEFAULT_ALPHAS = (0.2, 0.35, 0.5, 0.75, 1.0)
DEFAULT_BETAS = (0.0, 0.5, 1.0, 2.0)


def frame_posteriors(predictor: Predictor, paths: list[str]) -> list[torch.Tensor]:
    """Each clip's CTC logits (frames x vocabulary), in the order of `paths`, batched as the
    predictor batches (`batches_by_seconds`)."""
    audio = [load_audio(p) for p in paths]
    logits: list[torch.Tensor | None] = [None] * len(audio)
    for batch in batches_by_seconds([len(a) for a in audio], predictor.batch_seconds, predictor.model.needs_equal_lengths):
        output = predictor.run_model([audio[i] for i in batch])
        for row, i in enumerate(batch):
            logits[i] = output.ctc_logits[row, : int(output.frame_lengths[row])].float().clone()
    return logits


def score_grid(decoder: BeamDecoder, logits: list[torch.Tensor], references: list[str], alphas, betas) -> list[dict]:
    """CER and sWER of every (alpha, beta) pair on the stored posteriors."""
    results = []
    for alpha, beta in itertools.product(alphas, betas):
        decoder.set_weights(alpha, beta)
        hypotheses = [decoder.decode(x[None], torch.tensor([len(x)]))[0].text for x in logits]
        results.append({"alpha": alpha, "beta": beta, **error_rates(references, hypotheses)})
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="validation manifest CSV (never the test set)")
    parser.add_argument("--lm", required=True, help="ARPA/KenLM model over jamo words (python -m model.lm)")
    parser.add_argument("--alphas", type=float, nargs="+", default=DEFAULT_ALPHAS)
    parser.add_argument("--betas", type=float, nargs="+", default=DEFAULT_BETAS)
    parser.add_argument("--beam-width", type=int, default=32)
    parser.add_argument("--out", type=Path, help="JSON file for the grid and the best pair")
    args = parser.parse_args(argv)

    predictor = Predictor.from_pretrained(args.model)
    frame = read_manifest(args.data)
    normalizer = TextNormalizer()
    references = [normalizer(t) or "" for t in frame["text"]]
    logits = frame_posteriors(predictor, frame["path"].tolist())
    decoder = BeamDecoder(predictor.codec, args.lm, beam_width=args.beam_width)
    grid = score_grid(decoder, logits, references, args.alphas, args.betas)
    best = min(grid, key=lambda r: (r["cer_nospace"], r["cer"]))
    for row in grid:
        mark = "  <- best" if row is best else ""
        print(f"alpha={row['alpha']:<5} beta={row['beta']:<4} cer_nospace={row['cer_nospace']:.4f} "
              f"cer={row['cer']:.4f} swer={row['swer']:.4f}{mark}")
    print(json.dumps({"data": args.data, "n": len(references), "alpha": best["alpha"], "beta": best["beta"],
                      "cer_nospace": best["cer_nospace"]}))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"data": args.data, "n": len(references), "best": best, "grid": grid},
                                       indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
