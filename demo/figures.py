"""Matplotlib figures of the Batch and Compare tabs.

Figures are built with the object API (`Figure`, no pyplot state), so concurrent requests do
not share a current figure. Korean text (file names, titles) needs a Hangul font: NanumGothic
is the fallback after DejaVu Sans.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from demo.i18n import head_name, message

matplotlib.rcParams["font.family"] = ["DejaVu Sans", "NanumGothic"]
matplotlib.rcParams["axes.unicode_minus"] = False  # NanumGothic lacks U+2212

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"]


def batch_figure(predicted: dict[str, list[str]], durations: list[float], cers: list[float], lang: str) -> Figure:
    """Counts of each predicted class per head, the duration histogram, and (with references)
    the per-file CER histogram."""
    panels = len(predicted) + 1 + (1 if cers else 0)
    columns = min(panels, 3)
    rows = -(-panels // columns)
    fig = Figure(figsize=(3.6 * columns, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).flatten()
    for unused in axes[panels:]:
        unused.set_axis_off()
    for ax, (head, labels) in zip(axes, predicted.items()):
        counts = pd.Series(labels).value_counts().sort_index()
        ax.bar(counts.index.astype(str), counts.values, color=COLORS[: len(counts)])
        ax.set_title(message("fig_predicted", lang, head=head_name(head, lang)))
        ax.set_ylabel(message("fig_files", lang))
        ax.yaxis.get_major_locator().set_params(integer=True)
    _histogram(axes[len(predicted)], durations, message("fig_durations", lang), lang)
    if cers:
        _histogram(axes[panels - 1], cers, message("fig_cer", lang), lang, bins=np.linspace(0, max(1.0, max(cers)), 11))
    return fig


def _histogram(ax, values: list[float], title: str, lang: str, bins=10) -> None:
    ax.hist(values, bins=bins, color=COLORS[0], edgecolor="white")
    ax.set_title(title)
    ax.set_ylabel(message("fig_files", lang))
    ax.yaxis.get_major_locator().set_params(integer=True)


def comparison_figure(scores: pd.DataFrame, groups: dict[str, dict[str, dict]], heads: list[str], lang: str) -> Figure:
    """Rates, head accuracy and error types per model (top row); WER per speaker group (bottom).

    `scores`: one row per model with wer/cer/jer, substitutions/deletions/insertions and
    `{head}_accuracy`; `groups[attribute][model]`: `wer_by_group` output."""
    fig = Figure(figsize=(15, 8), layout="constrained")
    axes = fig.subplots(2, 3)
    models = list(scores.index)
    _grouped_bars(axes[0, 0], ["WER", "CER", "JER"], {m: scores.loc[m, ["wer", "cer", "jer"]].tolist() for m in models})
    axes[0, 0].set_title(message("fig_rates", lang))
    accuracy_columns = [f"{h}_accuracy" for h in heads if f"{h}_accuracy" in scores.columns]
    _grouped_bars(axes[0, 1], [head_name(c[: -len("_accuracy")], lang) for c in accuracy_columns],
                  {m: scores.loc[m, accuracy_columns].astype(float).tolist() for m in models})
    axes[0, 1].set_title(message("fig_accuracy", lang))
    axes[0, 1].set_ylim(0, 1)
    _stacked_error_types(axes[0, 2], scores, lang)
    for ax, (attribute, by_model) in zip(axes[1], groups.items()):
        values = sorted({value for per_model in by_model.values() for value in per_model})
        ax.set_title(message("fig_wer_by", lang, group=head_name(attribute, lang)))
        if not values:
            ax.text(0.5, 0.5, message("fig_no_labels", lang, group=head_name(attribute, lang)),
                    ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        _grouped_bars(ax, values, {m: [by_model[m].get(v, {}).get("wer", np.nan) for v in values] for m in models})
    # One legend for the models, above the panels, instead of one covering bars in each panel.
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=min(len(names), 6))
    return fig


def _grouped_bars(ax, categories: list[str], series: dict[str, list[float]]) -> None:
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(categories))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(positions + (i - (len(series) - 1) / 2) * width, values, width, label=name, color=COLORS[i % len(COLORS)])
    ax.set_xticks(positions, categories)
    ax.grid(axis="y", alpha=0.3)


def _stacked_error_types(ax, scores: pd.DataFrame, lang: str) -> None:
    bottom = np.zeros(len(scores))
    for i, kind in enumerate(("substitutions", "deletions", "insertions")):
        values = scores[kind].astype(float).to_numpy()
        ax.bar(list(scores.index), values, bottom=bottom, label=message(f"col_{kind}", lang), color=COLORS[i + 3])
        bottom += values
    ax.set_title(message("fig_error_types", lang))
    ax.legend(fontsize=8)
