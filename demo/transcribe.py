"""Transcribe tab: one recording -> transcript, jamo, one label per head, duration, time taken.

The same function is the `/transcribe` API endpoint, so its outputs are plain values a script
can use: two strings, one `{"label", "confidences"}` dict per head, and two numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from model.codec import jamo_for_display
from model.predict import HeadPrediction

from .audio_errors import public_reason
from .i18n import language, message
from .model_store import ModelStore


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
        return (prediction.text, jamo_for_display(prediction.jamo), *labels, round(prediction.duration, 2), round(elapsed, 2))
