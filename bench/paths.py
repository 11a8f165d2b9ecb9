"""Where the benches read and write: one place, so that every bench caches and reports alike."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"  # synthetic audio, exported models, runs (git-ignored: `.cache/`)
RESULTS_DIR = BENCH_DIR / "results"

DEMO_MODEL = PROJECT_ROOT / "demo" / "model"
WHISPER_MODEL = PROJECT_ROOT / "demo" / "whisper-model"
