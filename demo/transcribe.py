"""Transcribe tab: one recording -> transcript, jamo, one label per head, duration, time taken,
then the words with their times (low-confidence ones marked) and an SRT download.

The same function is the `/transcribe` API endpoint, so its outputs are plain values a script
can use: two strings, one `{"label", "confidences"}` dict per head, and two numbers (the words
go to a `gr.State`, which the API leaves out, and from there to the page).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import gradio as gr

from demo.audio_errors import public_reason
from demo.i18n import language, message
from demo.model_store import ModelStore
from demo.workspace import fresh_dir
from model.codec import jamo_for_display
from model.prediction import HeadPrediction, Prediction, Timed
from model.subtitles import make_cues, to_srt


def label_value(head: HeadPrediction) -> dict[str, float]:
    """What `gr.Label` shows: every class with its probability."""
    return {label: round(probability, 4) for label, probability in head.distribution.items()}


class Transcriber:
    def __init__(self, store: ModelStore):
        self.store = store

    @property
    def heads(self) -> list[str]:
        return self.store.main.heads

    def transcribe(self, audio: str | None, request: gr.Request = None) -> tuple:
        """Transcribe one recording; returns (text, jamo, *head labels, duration s, processing s)."""
        lang = language(request)
        if not audio:
            raise gr.Error(message("need_audio", lang))
        predictor = self.store.main
        started = time.perf_counter()
        prediction = predictor.predict_files([audio])[0]
        elapsed = time.perf_counter() - started
        if prediction.error:
            # Unreadable, silent or too long: say why instead of failing the request.
            reason = public_reason(prediction.error, audio, Path(audio).name)
            raise gr.Error(message("audio_error", lang, reason=reason))
        labels = [label_value(prediction.heads[head]) for head in predictor.heads]
        words = marked_words(prediction, predictor.model.config.low_confidence)  # to a gr.State (not in the API)
        return (prediction.text, jamo_for_display(prediction.jamo), *labels, round(prediction.duration, 2), round(elapsed, 2),
                words)


def marked_words(prediction: Prediction, low_confidence: float) -> list[dict]:
    """The prediction's words as plain dicts for `show_words`, each with `low` when its
    confidence is under the model's calibrated threshold."""
    return [{**dataclasses.asdict(w), "low": w.confidence < low_confidence} for w in prediction.words]


def show_words(words: list[dict] | None) -> tuple[list[tuple[str, str | None]], str | None]:
    """The words with their start times, those under the model's `low_confidence` marked, and an SRT file."""
    if not words:
        return [], None
    shown = []
    for word in words:
        shown.append((f"{word['start']:.2f}s ", None))
        shown.append((word["text"] + " ", "low" if word.get("low") else None))
    timed = [Timed(w["text"], w["start"], w["end"], w["confidence"]) for w in words]
    path = fresh_dir("subtitles") / "transcript.srt"
    path.write_text(to_srt(make_cues(timed)), encoding="utf-8")
    return shown, str(path)
