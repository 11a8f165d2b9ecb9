"""Live mode of the Transcribe tab: the microphone streams half-second chunks and the transcript
grows while the person speaks (`model.live.LiveTranscriber`: pieces committed at pauses).

One `LiveTranscriber` per browser session, held in a `gr.State`: it keeps at most one window of
uncommitted audio, and a session stops at `Limits.max_live_seconds`.
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from data_utils.audio import SAMPLE_RATE
from demo.i18n import language, message
from demo.limits import Limits
from demo.model_store import ModelStore
from model.live import LiveTranscriber

CHUNK_SECONDS = 0.5  # how often the browser sends audio: the floor of the latency


class LiveSession:
    def __init__(self, store: ModelStore, limits: Limits):
        self.store, self.limits = store, limits

    def start(self) -> tuple[str, LiveTranscriber]:
        return "", LiveTranscriber(self.store.main)

    def feed(self, chunk: tuple[int, np.ndarray] | None, live: LiveTranscriber | None,
             request: gr.Request = None) -> tuple[str, LiveTranscriber | None]:
        if chunk is None:
            return (live.transcript.text if live else ""), live
        live = live or LiveTranscriber(self.store.main)
        if live.heard_samples / SAMPLE_RATE >= self.limits.max_live_seconds:
            gr.Warning(message("live_limit", language(request), seconds=self.limits.max_live_seconds))
            return live.finish().text, live
        rate, samples = chunk
        return live.feed(samples, rate).text, live

    def stop(self, live: LiveTranscriber | None) -> tuple[str, None]:
        return (live.finish().text if live else ""), None
