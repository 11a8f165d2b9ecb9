"""Batch analysis tab (and the `/analyze_batch` API): many recordings -> table, CSV, plots.

A file that cannot be used becomes a row with its error; the rest of the batch completes.
Optional references (matched by file name) add WER/CER per file and corpus totals.
"""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from pathlib import Path, PurePosixPath

import gradio as gr
import pandas as pd

from demo.audio_errors import public_reason
from demo.figures import batch_figure
from demo.i18n import head_name, language, message
from demo.limits import LimitExceeded, Limits
from demo.model_store import ModelStore
from demo.references import ReferencesError, file_key, read_references
from demo.uploads import Recording, check_total_duration, collect_recordings
from demo.workspace import fresh_dir
from model.metrics import UTTERANCE_SCORES, classification_scores, error_rates, utterance_rates
from model.prediction import CSV_COLUMNS, Prediction
from model.subtitles import make_cues, to_srt

FILES_PER_ROUND = 8  # progress moves after each round of files
MAX_STEM = 120  # characters of a subtitle file's name: unpacked, it must fit a file system's 255 bytes


def csv_rows(recordings: list[Recording], predictions: list[Prediction], references: pd.DataFrame | None) -> pd.DataFrame:
    """The downloadable table: `model.predict`'s CSV columns (path = the file's name, never a
    server path), plus the reference and its scores (`UTTERANCE_SCORES`) when references were given."""
    rows = []
    for recording, prediction in zip(recordings, predictions):
        row = {**prediction.row(), "path": recording.name,
               "error": public_reason(prediction.error, str(recording.path), recording.name)}
        if references is not None:
            reference = _reference_for(recording, references)
            row["reference"] = reference if reference is not None else ""
            scored = reference is not None and not prediction.error
            rates = utterance_rates(reference, prediction.text) if scored else {}
            row.update({name: _rounded(rates.get(name, "")) for name in UTTERANCE_SCORES})
        rows.append(row)
    columns = CSV_COLUMNS + (["reference", *UTTERANCE_SCORES] if references is not None else [])
    return pd.DataFrame(rows, columns=columns)


def subtitles_zip(recordings: list[Recording], predictions: list[Prediction], path: Path) -> Path:
    """One SRT per recording that was read, named after it (folders flattened into the name, so
    that no member path can point outside the folder it is unpacked into)."""
    used: set[str] = set()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for recording, prediction in zip(recordings, predictions):
            if prediction.error:
                continue
            flat = re.sub(r"[^\w.\-]+", "_", str(PurePosixPath(recording.name).with_suffix("")))
            stem = flat.strip("._")[:MAX_STEM] or "recording"
            name, n = f"{stem}.srt", 1
            while name in used:  # the same name from two folders or zips
                n += 1
                name = f"{stem}-{n}.srt"
            used.add(name)
            archive.writestr(name, to_srt(make_cues(prediction.words)))
    return path


def _reference_for(recording: Recording, references: pd.DataFrame) -> str | None:
    key = file_key(recording.name)
    return str(references.loc[key, "text"]) if key in references.index else None


def _rounded(value) -> float | str:
    return round(value, 4) if isinstance(value, float) else value


def display_table(rows: pd.DataFrame, heads: list[str], lang: str) -> pd.DataFrame:
    """What the page shows: one column per head as 'label (probability)'."""
    table = pd.DataFrame({message("col_file", lang): rows["path"], message("col_transcript", lang): rows["text"]})
    for head in heads:
        table[message(f"col_{head}", lang)] = [f"{label} ({prob:.0%})" if label else ""
                                               for label, prob in zip(rows[head], pd.to_numeric(rows[f"{head}_prob"]))]
    table[message("col_duration", lang)] = rows["duration"]
    if "reference" in rows:
        for column in ("reference", *UTTERANCE_SCORES):
            table[message(f"col_{column}", lang)] = rows[column]
    table[message("col_error", lang)] = rows["error"]  # last: error texts are long
    return table


def summary_text(rows: pd.DataFrame, references: pd.DataFrame | None, heads: list[str], elapsed: float, lang: str) -> str:
    ok = rows[rows["error"] == ""]
    lines = [message("batch_summary", lang, files=len(rows), failed=len(rows) - len(ok),
                     seconds=float(pd.to_numeric(ok["duration"]).sum()), elapsed=elapsed)]
    if references is not None:
        matched = ok[ok["reference"] != ""] if "reference" in ok else ok.iloc[:0]
        if len(matched):
            rates = error_rates(matched["reference"].tolist(), matched["text"].tolist())
            lines.append(message("batch_scores", lang, matched=len(matched), files=len(rows), **rates))
            accuracy = _accuracy_lines(matched, references, heads, lang)
            if accuracy:
                lines.append(" · ".join(accuracy))
    return "\n\n".join(lines)


def _accuracy_lines(matched: pd.DataFrame, references: pd.DataFrame, heads: list[str], lang: str) -> list[str]:
    lines = []
    keys = [file_key(name) for name in matched["path"]]
    for head in heads:
        if head not in references.columns:
            continue
        truth, predicted = references.loc[keys, head].tolist(), matched[head].tolist()
        scores = classification_scores(truth, predicted, sorted(set(truth) | set(predicted)))
        if scores:
            lines.append(message("batch_accuracy", lang, head=head_name(head, lang), accuracy=scores["accuracy"], n=scores["n"]))
    return lines


class BatchAnalyzer:
    def __init__(self, store: ModelStore, limits: Limits):
        self.store = store
        self.limits = limits

    def analyze(self, files: list[str] | None, references: str | None = None, folder: list[str] | None = None,
                progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> tuple:
        """Analyse uploaded recordings (files, zips, a folder); returns (summary markdown, table,
        CSV file, summary figure, zip of SRT subtitles)."""
        lang = language(request)
        workdir = fresh_dir("batch")
        try:
            return self._analyze(files, references, folder, workdir, progress, lang)
        except (LimitExceeded, ReferencesError) as error:
            raise gr.Error(message(error.key, lang, **error.values)) from None
        finally:
            # Unpacked zips are not needed once predictions exist; the CSV stays for download.
            for extracted in workdir.glob("zip-*"):
                shutil.rmtree(extracted, ignore_errors=True)

    def _analyze(self, files, references, folder, workdir: Path, progress, lang: str) -> tuple:
        recordings = collect_recordings(files, folder, workdir, self.limits)
        if not recordings:
            raise gr.Error(message("no_audio_files", lang))
        reference_table = read_references(references) if references else None
        check_total_duration(recordings, self.limits,
                             lambda done, total: progress((done, total), desc=message("progress_checking", lang)))
        predictor = self.store.main
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            progress((done, len(recordings)), desc=message("progress_analyzing", lang), unit="files")

        advance(0)
        started = time.perf_counter()
        predictions = predictor.predict_files([r.path for r in recordings], progress=advance, files_per_round=FILES_PER_ROUND)
        elapsed = time.perf_counter() - started
        rows = csv_rows(recordings, predictions, reference_table)
        csv_path = workdir / "predictions.csv"
        rows.to_csv(csv_path, index=False, encoding="utf-8")
        ok = rows[rows["error"] == ""]
        cers = [float(c) for c in ok["cer"] if c != ""] if "cer" in ok else []
        figure = batch_figure({h: ok[h].tolist() for h in predictor.heads}, pd.to_numeric(ok["duration"]).tolist(), cers, lang)
        summary = summary_text(rows, reference_table, predictor.heads, elapsed, lang)
        subtitles = subtitles_zip(recordings, predictions, workdir / "subtitles.zip")
        return summary, display_table(rows, predictor.heads, lang), str(csv_path), figure, str(subtitles)
