"""Matplotlib figures of training and evaluation: training curves from metrics.jsonl (the trainer
writes them, the app's Training tab draws them) and an evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path) -> list[dict]:
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    return records


def _series(records: list[dict], key: str) -> tuple[list, list]:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def training_figure(records: list[dict]):
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    panels = [
        ("losses per task", [k for k in _keys(records) if k.startswith("loss_")], True),
        ("task weights", [k for k in _keys(records) if k.startswith("weight_")], False),
        ("learning rate", ["lr_encoder", "lr_heads"], False),
        ("validation error rates", ["eval_cer", "eval_wer", "eval_jer"], False),
        ("validation head accuracy", [k for k in _keys(records) if k.startswith("eval_") and k.endswith("_accuracy")], False),
        ("throughput (audio s / s)", ["audio_s_per_s"], False),
    ]
    for ax, (title, keys, log_scale) in zip(axes.flat, panels):
        for key in keys:
            steps, values = _series(records, key)
            if steps:
                ax.plot(steps, values, marker="o" if key.startswith("eval_") else None, markersize=3, label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        if log_scale and any(_series(records, k)[0] for k in keys):
            ax.set_yscale("log")
        if ax.has_data():
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _keys(records: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if isinstance(value, (int, float)):
                seen.setdefault(key)
    return list(seen)


def plot_training_curves(metrics_path, out_path) -> Path:
    fig = training_figure(read_metrics(metrics_path))
    out_path = Path(out_path)
    tmp = out_path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out_path)  # readers (the app) never see a half-written image
    return out_path


def evaluation_figure(summary: dict, frame):
    heads = [k[: -len("_confusion")] for k in summary if k.endswith("_confusion")]
    fig, axes = plt.subplots(1, 2 + len(heads), figsize=(5 * (2 + len(heads)), 4))
    axes[0].bar(["WER", "CER", "JER"], [summary["wer"], summary["cer"], summary["jer"]], color=["#4c72b0", "#dd8452", "#55a868"])
    axes[0].set_title(f"error rates (n={summary['n']})")
    axes[0].set_ylim(0, max(1.0, summary["wer"]))
    axes[1].bar(["substitutions", "deletions", "insertions"],
                [summary["substitutions"], summary["deletions"], summary["insertions"]], color="#8172b2")
    axes[1].set_title("word error types")
    for ax, head in zip(axes[2:], heads):
        confusion = summary[f"{head}_confusion"]
        ax.imshow(confusion["matrix"], cmap="Blues")
        ax.set_xticks(range(len(confusion["classes"])), confusion["classes"], rotation=45)
        ax.set_yticks(range(len(confusion["classes"])), confusion["classes"])
        for i, row in enumerate(confusion["matrix"]):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center")
        ax.set_title(f"{head}: accuracy {summary[f'{head}_accuracy']:.1%}")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    return fig


def plot_evaluation(summary: dict, frame, out_path) -> Path:
    fig = evaluation_figure(summary, frame)
    fig.savefig(out_path, dpi=90)
    plt.close(fig)
    return Path(out_path)
