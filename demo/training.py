"""Training tab: curves of a run's `metrics.jsonl` (drawn by `model.plots.training_figure`).

Runs are listed from the configured runs root only, and the browser picks one by its listed
name: a name that is not in the current listing is refused, so no request can make the
server read a path of its choosing. An uploaded metrics.jsonl is the other way in.
"""

from __future__ import annotations

import threading
from pathlib import Path

import gradio as gr
import matplotlib.pyplot as plt

from demo.i18n import language, message
from model.plots import read_metrics, training_figure

METRICS_FILE = "metrics.jsonl"
MAX_DEPTH = 3  # runs/<name>/metrics.jsonl up to runs/<group>/<name>/<sub>/metrics.jsonl
_PYPLOT_LOCK = threading.Lock()  # training_figure draws through pyplot, which is not thread-safe


def list_runs(runs_root: Path) -> dict[str, Path]:
    """{name relative to the root: metrics file} for every run folder under `runs_root`."""
    if not runs_root.is_dir():
        return {}
    runs = {}
    for depth in range(MAX_DEPTH + 1):
        for metrics in sorted(runs_root.glob("/".join(["*"] * depth + [METRICS_FILE]))):
            if metrics.is_file():
                name = metrics.parent.relative_to(runs_root).as_posix()
                runs[name if name != "." else runs_root.name] = metrics
    return runs


def summary_text(records: list[dict], lang: str) -> str:
    last = records[-1]
    lines = [message("training_last", lang, step=last.get("step", 0), elapsed=float(last.get("time", 0.0)))]
    evaluated = [r for r in records if isinstance(r.get("eval_cer"), (int, float))]
    if evaluated:
        best = min(evaluated, key=lambda r: r["eval_cer"])
        lines.append(message("training_best", lang, cer=best["eval_cer"], step=best.get("step", 0)))
    return " · ".join(lines)


class TrainingViewer:
    def __init__(self, runs_root: Path):
        self.runs_root = Path(runs_root)

    def run_names(self) -> list[str]:
        """Runs present now, the most recently updated first."""
        runs = list_runs(self.runs_root)
        return sorted(runs, key=lambda name: runs[name].stat().st_mtime, reverse=True)

    def run_choices(self) -> gr.Dropdown:
        names = self.run_names()
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    def curves(self, run: str | None, uploaded: str | None = None, request: gr.Request = None) -> tuple:
        """Training curves of a listed run (or of an uploaded metrics.jsonl): (figure, summary)."""
        lang = language(request)
        if uploaded:
            metrics = Path(uploaded)
        elif run:
            metrics = list_runs(self.runs_root).get(run)
            if metrics is None:
                raise gr.Error(message("training_unknown_run", lang, name=run))
        else:
            raise gr.Error(message("training_no_run", lang))
        try:
            records = [r for r in read_metrics(metrics) if isinstance(r, dict)]
        except (UnicodeDecodeError, OSError):
            records = []  # not a text file: same answer as an empty one
        if not records:
            raise gr.Error(message("training_no_metrics", lang))
        with _PYPLOT_LOCK:
            figure = training_figure(records)
            plt.close(figure)  # drop pyplot's reference; the figure itself still renders
        return figure, summary_text(records, lang)
