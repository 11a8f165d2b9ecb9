"""Compare tab (and the `/compare` API): several models scored on the same references.

A model's predictions come either from a prediction CSV (`python -m model.predict` output,
named after the file) or from a model served here run on uploaded audio. Everything is matched
by file name, and only files present in the references and in every prediction set count.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from data_utils.manifest import HEADS
from demo.errors import LocalizedError
from demo.figures import comparison_figure
from demo.i18n import head_name, language, message
from demo.limits import LimitExceeded, Limits
from demo.model_store import ModelStore
from demo.references import ReferencesError, file_key, read_references
from demo.uploads import check_total_duration, collect_recordings
from demo.workspace import fresh_dir
from model.metrics import classification_scores, error_rates, utterance_rates, wer_by_group

GROUP_ATTRIBUTES = ("gender", "age", "accent")
MOST_DIFFERENT = 20


class CompareError(LocalizedError):
    """A comparison that cannot be made (no common files, no references, an unknown model)."""


def read_prediction_csv(path: str) -> pd.DataFrame:
    """Index: file name; columns: text and whichever head columns the CSV has."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if not {"path", "text"} <= set(frame.columns):
        raise CompareError("predictions_columns", name=Path(path).name)
    frame["key"] = [file_key(p) for p in frame["path"]]
    return frame.drop_duplicates("key").set_index("key")[["text", *[h for h in HEADS if h in frame.columns]]]


def set_names(paths: list[str], taken: set[str]) -> list[str]:
    """Model names from CSV file names (`whisper.csv` -> `whisper`), unique among `taken`."""
    names = []
    for path in paths:
        base, name, n = Path(path).stem, Path(path).stem, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names.append(name)
    return names


def score_sets(references: pd.DataFrame, sets: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """(scores per model, WER by speaker group per model, per-file CER per model) over the files
    that the references and every set share."""
    keys = [k for k in references.index if all(k in s.index for s in sets.values())]
    if not keys:
        raise CompareError("compare_no_common")
    truth = references.loc[keys]
    refs = truth["text"].tolist()
    scores, groups, per_file = {}, {a: {} for a in GROUP_ATTRIBUTES}, {}
    for name, predictions in sets.items():
        hyps = predictions.loc[keys, "text"].tolist()
        scores[name] = {"files": len(keys), **error_rates(refs, hyps)}
        for head in HEADS:
            if head in predictions.columns and truth[head].astype(bool).any():
                result = classification_scores(truth[head].tolist(), predictions.loc[keys, head].tolist(),
                                               sorted(set(truth[head]) | set(predictions.loc[keys, head])))
                scores[name][f"{head}_accuracy"] = result.get("accuracy", float("nan"))
        for attribute in GROUP_ATTRIBUTES:
            groups[attribute][name] = wer_by_group(refs, hyps, truth[attribute].tolist())
        per_file[name] = [utterance_rates(r, h)["cer"] for r, h in zip(refs, hyps)]
    return pd.DataFrame.from_dict(scores, orient="index"), groups, pd.DataFrame(per_file, index=keys)


def scores_table(scores: pd.DataFrame, lang: str) -> pd.DataFrame:
    table = pd.DataFrame({message("col_model", lang): scores.index, message("col_files", lang): scores["files"]})
    for column in ("cer_nospace", "swer", "wer", "cer", "jer"):
        table[message(f"col_{column}", lang)] = scores[column].round(4)
    for head in HEADS:
        if f"{head}_accuracy" in scores:
            table[message("col_accuracy", lang, head=head_name(head, lang))] = scores[f"{head}_accuracy"].round(4)
    for column in ("substitutions", "deletions", "insertions"):
        table[message(f"col_{column}", lang)] = scores[column]
    # A set without a head column has no accuracy: an empty cell (JSON has no NaN).
    return table.reset_index(drop=True).astype(object).where(table.notna().to_numpy(), "")


def differences_table(references: pd.DataFrame, sets: dict[str, pd.DataFrame], per_file: pd.DataFrame,
                      lang: str, limit: int = MOST_DIFFERENT) -> pd.DataFrame:
    """The files whose CER varies most between models, with every model's transcript."""
    spread = (per_file.max(axis=1) - per_file.min(axis=1)).sort_values(ascending=False, kind="stable")
    top = spread[spread > 0].index[:limit] if len(sets) > 1 else per_file.max(axis=1).sort_values(ascending=False).index[:limit]
    table = pd.DataFrame({message("col_file", lang): top, message("col_reference", lang): references.loc[top, "text"].tolist()})
    for name, predictions in sets.items():
        # Transcript and its CER in one cell: one column per model stays readable with many models.
        table[name] = [f"{text}  [CER {cer:.2f}]" for text, cer in zip(predictions.loc[top, "text"], per_file.loc[top, name])]
    table[message("col_spread", lang)] = spread.loc[top].round(3).tolist()
    return table


class Comparer:
    def __init__(self, store: ModelStore, limits: Limits):
        self.store = store
        self.limits = limits

    def compare(self, references: str | None, predictions: list[str] | None = None, models: list[str] | None = None,
                audio: list[str] | None = None, progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> tuple:
        """Score prediction CSVs and/or served models on the same references; returns (scores
        table, comparison figure, table of the most different utterances)."""
        lang = language(request)
        workdir = fresh_dir("compare")
        try:
            if not references:
                raise CompareError("compare_need_references")
            reference_table = read_references(references)
            sets = self._prediction_sets(predictions or [], models or [], audio or [], workdir, progress, lang)
            scores, groups, per_file = score_sets(reference_table, sets)
            figure = comparison_figure(scores, groups, list(HEADS), lang)
            return scores_table(scores, lang), figure, differences_table(reference_table, sets, per_file, lang)
        except (CompareError, LimitExceeded, ReferencesError) as error:
            raise gr.Error(message(error.key, lang, **error.values)) from None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _prediction_sets(self, csvs: list[str], models: list[str], audio: list[str], workdir: Path,
                         progress, lang: str) -> dict[str, pd.DataFrame]:
        if not csvs and not models:
            raise CompareError("compare_need_sets")
        unknown = [m for m in models if m not in self.store.names]
        if unknown:
            raise CompareError("compare_unknown_model", name=unknown[0])
        sets = {name: read_prediction_csv(path) for name, path in zip(set_names(csvs, set(models)), csvs)}
        if models:
            sets.update(self._run_models(models, audio, workdir, progress, lang))
        return sets

    def _run_models(self, models: list[str], audio: list[str], workdir: Path, progress, lang: str) -> dict[str, pd.DataFrame]:
        recordings = collect_recordings(audio, None, workdir, self.limits)
        if not recordings:
            raise CompareError("compare_need_audio")
        check_total_duration(recordings, self.limits)
        sets = {}
        for step, name in enumerate(models):
            progress((step, len(models)), desc=name)
            try:
                predictor = self.store.get(name)
            except (OSError, ValueError) as error:  # removed or broken since the server started
                raise CompareError("compare_model_unavailable", name=name, reason=str(error)) from None
            predictions = predictor.predict_files([r.path for r in recordings])
            rows = [{"key": file_key(r.name), "text": p.text, **{h: p.heads[h].label for h in p.heads}}
                    for r, p in zip(recordings, predictions)]
            # A file that failed has no head labels: empty, like an empty transcript.
            sets[name] = pd.DataFrame(rows).fillna("").drop_duplicates("key").set_index("key")
        return sets
