"""The models the app serves: loaded once, shared by every request.

The main model comes from `--model`, else the environment variable `KOREAN_SPEECH_MODEL`, else
the bundled `demo/whisper-model` (whisper-base's encoder fine-tuned on real and synthetic speech:
the best of the bundled models on every held-out set; the espeak-only `demo/model` is the small
option, `--model demo/model`). Extra models for the Compare tab are named on the command line
(`--compare-model DIR`) and loaded on first use; the browser picks them by display name only.
`Predictor` runs under `torch.inference_mode()` and keeps no per-call state, so one instance
serves concurrent requests.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from demo.limits import Limits
from model.predict import Predictor

ENV_VAR = "KOREAN_SPEECH_MODEL"
BUNDLED_MODEL = Path(__file__).resolve().parent / "whisper-model"
MAIN_NAME = "main"


def resolve_model_source(cli_value: str | None) -> str:
    """The model to serve: command line, then environment, then the bundled folder."""
    source = cli_value or os.environ.get(ENV_VAR)
    if source:
        return source
    if BUNDLED_MODEL.is_dir():
        return str(BUNDLED_MODEL)
    raise SystemExit(f"no model: pass --model DIR_OR_HUB_ID, set {ENV_VAR}, or put a model in {BUNDLED_MODEL}")


def display_names(sources: list[str]) -> dict[str, str]:
    """Short, unique names for model sources (folder name, numbered on clashes)."""
    names: dict[str, str] = {}
    for source in sources:
        base = Path(source.rstrip("/")).name or source
        if base in ("best", "model"):  # runs/x/best -> x-best: the run is the telling part
            base = f"{Path(source.rstrip('/')).parent.name}-{base}"
        name, n = base, 2
        while name in names or name == MAIN_NAME:
            name, n = f"{base}-{n}", n + 1
        names[name] = source
    return names


class ModelStore:
    def __init__(self, main_source: str, limits: Limits, compare_sources: list[str] | None = None):
        self.limits = limits
        self.sources = {MAIN_NAME: main_source, **display_names(compare_sources or [])}
        self._loaded: dict[str, Predictor] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.sources)

    @property
    def main(self) -> Predictor:
        return self.get(MAIN_NAME)

    def preload(self) -> None:
        """Load the main model now: a bad model fails at start, not on the first visitor."""
        self.get(MAIN_NAME)

    def get(self, name: str) -> Predictor:
        """The predictor for a display name; `KeyError` for names that were not configured."""
        source = self.sources[name]
        loaded = self._loaded.get(name)
        if loaded is not None:  # the common case: no lock, so loading another model blocks no one
            return loaded
        with self._lock:  # two first requests must not load the same model twice
            if name not in self._loaded:
                self._loaded[name] = Predictor.from_pretrained(
                    source, max_seconds=self.limits.max_seconds, window_seconds=self.limits.window_seconds)
            return self._loaded[name]
