"""A fine-tuned encoder moved part of the way back to its pretrained weights (WiSE-FT).

    python -m model.interpolate --model DIR --base DIR --out DIR --alpha 0.9
    python -m model.interpolate --model DIR --base DIR --out DIR --alphas 1 0.9 0.8 0.5@3 \
                                --valid valid.csv valid-degraded.csv

Fine-tuning on a few hours of speech buys accuracy on voices like the training ones and costs
robustness elsewhere: the pretrained encoder generalises better than its fine-tuned copy, and a
point on the straight line between their weights often holds both (Wortsman et al., "Robust
fine-tuning of zero-shot models", 2022). Only the encoder is interpolated, as
`alpha * fine-tuned + (1 - alpha) * pretrained`; the CTC head and the speaker heads are the
fine-tuned model's. `--base` is the encoder the model was fine-tuned from, loaded as training
loads it (`model.whisper_init --as whisper` output, or any Wav2Vec2 checkpoint).

An alpha `A@K` is layer-wise: the front end and the lowest K transformer blocks move to
`A * fine-tuned + (1 - A) * pretrained`, the blocks above and the final norm stay fine-tuned.
Measured on the whisper encoder (bench/RESULTS.md, step 9), the lower blocks carry most of what
fine-tuning costs in robustness and the upper ones most of what it gains.

With `--alphas` and `--valid`, each alpha is scored (greedy CER without spaces, as
`model.predict` decodes) on every validation manifest, and the alpha with the lowest mean is
written. Validation data only: the sets you report figures on must stay unseen. A degraded copy
of the validation set (`python -m data_utils.augment`) stands in for the rooms and microphones
that a clean one lacks. `interpolation.json` beside the weights records the choice.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data_utils.audio import load_audio
from data_utils.manifest import read_manifest
from data_utils.text import TextNormalizer
from model.codec import JamoCodec
from model.metrics import error_rates
from model.network import MultiTaskWav2Vec2, resolve_model_dir
from model.predict import Predictor

RECORD_NAME = "interpolation.json"


def encoder_weights(model: MultiTaskWav2Vec2) -> dict[str, torch.Tensor]:
    """The encoder's floating-point parameters, detached copies."""
    return {name: p.detach().clone() for name, p in model.encoder.named_parameters() if p.is_floating_point()}


def base_encoder_weights(base, model: MultiTaskWav2Vec2) -> dict[str, torch.Tensor]:
    """The pretrained encoder's weights under the names of `model`'s encoder; refuses a base of
    another architecture or shape, naming what differs."""
    pretrained, _ = MultiTaskWav2Vec2.from_encoder(base, model.config, model.labels)
    if pretrained.is_whisper != model.is_whisper:
        raise ValueError(f"{base}: a {'whisper' if pretrained.is_whisper else 'wav2vec2'} encoder, but the model's "
                         f"is {'whisper' if model.is_whisper else 'wav2vec2'}")
    weights, ours = encoder_weights(pretrained), encoder_weights(model)
    missing = sorted(set(ours) - set(weights))
    shapes = sorted(k for k in set(ours) & set(weights) if ours[k].shape != weights[k].shape)
    if missing or shapes:
        raise ValueError(f"{base}: not the encoder this model was fine-tuned from "
                         f"({len(missing)} weights missing, {len(shapes)} of another shape, e.g. {(missing + shapes)[0]})")
    return {k: weights[k] for k in ours}


@dataclass(frozen=True)
class Alpha:
    """The fine-tuned weights' share: `value` for the front end and the lowest `blocks` blocks
    (every block when None), 1 above them."""

    value: float
    blocks: int | None = None

    @classmethod
    def parse(cls, text: str) -> Alpha:
        match = re.fullmatch(r"([0-9.]+)(?:@(\d+))?", text.strip())
        if not match:
            raise ValueError(f"alpha {text!r}: a number in [0, 1], or A@K for the lowest K blocks")
        alpha = cls(float(match.group(1)), int(match.group(2)) if match.group(2) else None)
        if not 0.0 <= alpha.value <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], not {alpha.value}")
        return alpha

    def __str__(self) -> str:
        return f"{self.value:g}" if self.blocks is None else f"{self.value:g}@{self.blocks}"

    def by_depth(self, blocks: int) -> list[float]:
        """The share at each depth: front end, blocks 1..N, final norm."""
        if self.blocks is None:
            return [self.value] * (blocks + 2)
        if self.blocks > blocks:
            raise ValueError(f"alpha {self}: the encoder has {blocks} blocks")
        return [self.value] * (self.blocks + 1) + [1.0] * (blocks - self.blocks + 1)


def alpha_argument(text: str) -> Alpha:
    try:
        return Alpha.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@torch.no_grad()
def interpolate(model: MultiTaskWav2Vec2, fine_tuned: dict[str, torch.Tensor], base: dict[str, torch.Tensor],
                alpha: Alpha) -> MultiTaskWav2Vec2:
    """Set `model`'s encoder to alpha * fine_tuned + (1 - alpha) * base, in place (per depth for
    a layer-wise alpha)."""
    shares = alpha.by_depth(len(model.blocks))
    depths = model.encoder_depths()
    parameters = dict(model.encoder.named_parameters())
    for name, tuned in fine_tuned.items():
        parameters[name].copy_(torch.lerp(base[name], tuned, shares[depths[name]]))
    return model


def validation_cer(model: MultiTaskWav2Vec2, codec: JamoCodec, clips: list[tuple[list[np.ndarray], list[str]]]) -> list[float]:
    """Greedy CER without spaces on each (audio, references) set, as `model.predict` reads it."""
    predictor = Predictor(model, codec)
    return [error_rates(references, [p.text for p in predictor.predict_arrays(audio)])["cer_nospace"]
            for audio, references in clips]


def load_validation(manifests: list[str]) -> list[tuple[list[np.ndarray], list[str]]]:
    normalize = TextNormalizer()
    sets = []
    for manifest in manifests:
        frame = read_manifest(manifest)
        sets.append(([load_audio(p) for p in frame["path"]], [normalize(t) or "" for t in frame["text"]]))
    return sets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the fine-tuned model directory")
    parser.add_argument("--base", required=True, help="the encoder it was fine-tuned from (directory or Hub id)")
    parser.add_argument("--out", type=Path, required=True)
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--alpha", type=alpha_argument, help="the fine-tuned weights' share (A, or A@K for the front end "
                                                           "and lowest K blocks alone)")
    choice.add_argument("--alphas", type=alpha_argument, nargs="+", help="candidates, scored on --valid")
    parser.add_argument("--valid", nargs="+", default=[], help="validation manifests (never a test set)")
    parser.add_argument("--as", dest="dtype", choices=["float32", "float16"], default="float32",
                        help="storage precision of the weights written")
    args = parser.parse_args(argv)
    if args.alphas and not args.valid:
        parser.error("--alphas needs --valid manifests to choose among them")

    directory = resolve_model_dir(args.model)
    model = MultiTaskWav2Vec2.from_pretrained(directory)
    codec = JamoCodec.from_vocab_file(directory / "vocab.json")
    fine_tuned = encoder_weights(model)
    base = base_encoder_weights(args.base, model)
    record = {"model": str(args.model), "base": str(args.base), "valid": args.valid, "scores": []}
    alpha = args.alpha
    if args.alphas:
        clips = load_validation(args.valid)
        for candidate in args.alphas:
            rates = validation_cer(interpolate(model, fine_tuned, base, candidate), codec, clips)
            record["scores"].append({"alpha": str(candidate), "cer_nospace": [round(r, 4) for r in rates],
                                     "mean": round(float(np.mean(rates)), 4)})
            print(f"alpha={str(candidate):<7} " + "  ".join(f"{Path(m).name} {r:.4f}" for m, r in zip(args.valid, rates))
                  + f"  mean {np.mean(rates):.4f}", flush=True)
        # ties go to the candidate that keeps more of the fine-tuned weights
        alpha, _ = min(zip(args.alphas, record["scores"]),
                       key=lambda pair: (pair[1]["mean"], -np.mean(pair[0].by_depth(len(model.blocks)))))
    record["alpha"] = str(alpha)
    record["alpha_by_depth"] = alpha.by_depth(len(model.blocks))
    interpolate(model, fine_tuned, base, alpha)
    model.save_pretrained(args.out, codec, dtype=torch.float16 if args.dtype == "float16" else None)
    (args.out / RECORD_NAME).write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(json.dumps({"alpha": str(alpha), "out": str(args.out)}))


if __name__ == "__main__":
    main()
