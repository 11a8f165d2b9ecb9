"""Evaluate a model on a manifest: error rates, head scores, per-utterance results, plots.

    python -m distributed.evaluate --model DIR --data test.csv --out REPORT_DIR

The last line printed is a JSON summary: n, skipped (rows left out, with reasons in
summary.json), cer_nospace, swer, wer, cer, jer (see
`model.metrics` for which is which) and <head>_accuracy,
<head>_macro_f1 for each head with labels in the data (rates as fractions).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from data_utils.batching import DynamicBatchSampler, make_loader
from data_utils.labels import IGNORE, LabelSet
from model.codec import JamoCodec
from model.config import receptive_field
from model.decoding import GreedyDecoder
from model.metrics import classification_scores, error_rates, utterance_rates, wer_by_group


@torch.inference_mode()
def run_evaluation(model, dataset, labels: LabelSet, codec: JamoCodec | None = None, batch_seconds: float = 60.0,
                   device: str | torch.device = "cpu", max_utterances: int | None = None,
                   decoder=None) -> tuple[dict, pd.DataFrame]:
    """Decode `dataset` (from `data_utils.batching.load_dataset`) with `decoder` (greedy, kept to
    whole syllables, unless another `model.decoding` decoder is given); return (summary, rows)."""
    codec = codec or JamoCodec()
    decoder = decoder or GreedyDecoder(codec)
    was_training = model.training
    model.eval()
    lengths = dataset.lengths
    if max_utterances is not None and max_utterances < len(dataset):
        rows = evaluation_sample(len(dataset), max_utterances)
        dataset, lengths = dataset.select(rows), lengths[rows]
    sampler = DynamicBatchSampler(lengths, batch_seconds, shuffle=False, equal_lengths=model.needs_equal_lengths)
    heads = tuple(h for h in model.config.heads if h in labels.heads)
    loader = make_loader(dataset, sampler, heads, num_workers=0, min_samples=receptive_field(model.encoder_config))
    rows = []
    for indices, batch in zip(sampler, loader):
        output = model(batch["input_values"].to(device), batch["attention_mask"].to(device))
        transcripts = decoder.decode(output.ctc_logits.float(), output.frame_lengths)
        probs = {h: torch.softmax(output.head_logits[h].float(), -1).cpu() for h in heads}
        for j, index in enumerate(indices):
            reference = codec.decode(dataset[index]["labels"])
            row = {"index": index, "reference": reference, "hypothesis": transcripts[j].text, "hypothesis_jamo": transcripts[j].jamo}
            row.update(utterance_rates(reference, transcripts[j].text))
            for h in heads:
                true = int(batch[h][j])
                row[h] = model.labels[h][true] if true != IGNORE else ""
                row[f"{h}_pred"] = model.labels[h][int(probs[h][j].argmax())]
                row[f"{h}_prob"] = float(probs[h][j].max())
            rows.append(row)
    if was_training:
        model.train()
    frame = pd.DataFrame(rows).sort_values("index").reset_index(drop=True)
    refs, hyps = frame["reference"].tolist(), frame["hypothesis"].tolist()
    summary = {"n": len(frame), **error_rates(refs, hyps)}
    for h in heads:
        scores = classification_scores(frame[h].tolist(), frame[f"{h}_pred"].tolist(), model.labels[h])
        if scores:
            summary[f"{h}_accuracy"], summary[f"{h}_macro_f1"] = scores["accuracy"], scores["macro_f1"]
            summary[f"{h}_confusion"] = {"classes": scores["classes"], "matrix": scores["confusion"]}
            summary[f"wer_by_{h}"] = wer_by_group(refs, hyps, frame[h].tolist())
    return summary, frame


def evaluation_sample(size: int, count: int, seed: int = 0) -> list[int]:
    """A fixed seeded sample of `count` row indices (in order): model selection scores the same
    rows at every evaluation, drawn from the whole set rather than its first rows, which a
    manifest sorted by speaker or source would make one speaker's."""
    return sorted(np.random.default_rng(seed).choice(size, size=count, replace=False).tolist())


def write_report(summary: dict, frame: pd.DataFrame, out: Path) -> None:
    from model.plots import plot_evaluation

    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "utterances.csv", index=False, encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    plot_evaluation(summary, frame, out / "report.png")


def headline(summary: dict) -> dict:
    """The keys the CLI's last line promises."""
    keys = ["n", "skipped", "cer_nospace", "swer", "wer", "cer", "jer"] + [k for k in summary if k.endswith(("_accuracy", "_macro_f1"))]
    keys = [k for k in keys if k in summary]
    return {k: (round(summary[k], 4) if isinstance(summary[k], float) else summary[k]) for k in keys}


def main(argv: list[str] | None = None) -> None:
    from data_utils.batching import load_dataset
    from model.network import MultiTaskWav2Vec2

    parser = argparse.ArgumentParser(description="Evaluate a model on a manifest.")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="manifest CSV")
    parser.add_argument("--out", type=Path, default=None, help="report folder (per-utterance CSV, summary, plots)")
    parser.add_argument("--batch-seconds", type=float, default=60.0)
    parser.add_argument("--num-proc", type=int, default=1)
    parser.add_argument("--beam-width", type=int, default=0, help="beam search (pyctcdecode) instead of greedy")
    parser.add_argument("--no-syllables", action="store_true",
                        help="the plain argmax path or best beam, not kept to whole syllables (for comparison)")
    parser.add_argument("--lm", help="ARPA/KenLM model over jamo words (python -m model.lm) for beam search")
    parser.add_argument("--lm-alpha", type=float, default=0.5, help="LM weight (tune on validation data)")
    parser.add_argument("--lm-beta", type=float, default=1.0, help="word insertion bonus")
    args = parser.parse_args(argv)

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = MultiTaskWav2Vec2.from_pretrained(args.model)
    labels = LabelSet(model.labels)  # the model's own classes, one list per head
    dataset = load_dataset(args.data, labels, JamoCodec(), num_proc=args.num_proc)
    for skipped in dataset.skipped:
        print(f"skipped {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    decoder = GreedyDecoder(JamoCodec(), syllables=not args.no_syllables)
    if args.beam_width or args.lm:
        from model.decoding import BeamDecoder

        decoder = BeamDecoder(JamoCodec(), args.lm, beam_width=args.beam_width or 32, alpha=args.lm_alpha, beta=args.lm_beta,
                              syllables=not args.no_syllables)
    summary, frame = run_evaluation(model, dataset, labels, batch_seconds=args.batch_seconds, decoder=decoder)
    # Rows left out (unreadable, over the 30-s limit, no transcript) are counted in the last line.
    summary["skipped"] = len(dataset.skipped)
    summary["skipped_reasons"] = dict(Counter(row["reason"] for row in dataset.skipped))
    if args.out:
        write_report(summary, frame, args.out)
    print(json.dumps(headline(summary), ensure_ascii=False))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
