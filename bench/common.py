"""Helpers shared by the benches: machine description, timing, tables, JSON, synthetic audio,
model weights to measure, FLOP counting and the matmul peak.

Benches are scripts, not tests: they print a side-by-side table and write a JSON file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"  # synthetic audio and exported models (git-ignored: `.cache/`)
RESULTS_DIR = BENCH_DIR / "results"

DEMO_MODEL = PROJECT_ROOT / "demo" / "model"


# --- the machine ----------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def machine_info(threads: int) -> dict:
    """What the figures were measured on; load average shows how busy the machine was."""
    import torch
    import transformers

    flags = cpu_flags()
    simd = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "no avx2"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench." + Path(sys.argv[0]).stem, *sys.argv[1:]]),
        "cpu": cpu_model(), "cores": os.cpu_count(), "simd": simd,
        "bf16_native": "avx512_bf16" in flags or "amx_bf16" in flags,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "torch_threads": threads, "torch": torch.__version__, "transformers": transformers.__version__,
        "python": platform.python_version(), "niceness": os.nice(0),
    }


def load_note(start: list[float]) -> dict:
    """Load averages before and after: the benches share the machine with other work."""
    return {"load_average_at_start": start, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


# --- timing, tables, JSON ---------------------------------------------------------------------------

def timed(function: Callable, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (ffmpeg, say)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_cpu(function: Callable, *args, **kwargs) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds). On a shared machine CPU time varies less than wall
    time, because time spent waiting for a core is not counted."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start, cpu_seconds() - start_cpu


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round i's ratio, for each i. Round i of every contender runs back to back (the benches
    alternate their order), so each ratio sees one phase of a machine whose speed drifts."""
    return [n / d for n, d in zip(numerators, denominators)]


def format_value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows side by side as a Markdown table (pastes straight into RESULTS.md)."""
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def print_table(title: str, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    print(f"\n## {title}\n\n{format_table(rows, columns)}\n", flush=True)


def write_json(path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return path


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- synthetic audio ---------------------------------------------------------------------------------

def make_clip_folder(out: Path, count: int, seed: int = 0, min_seconds: float = 1.0, max_seconds: float = 19.5) -> list[Path]:
    """`count` wav clips of mixed length, uniform in [min_seconds, max_seconds]: synthesised
    sentences of one voice concatenated with short pauses and cut at the target length.
    The maximum stays under the predictor's 20 s window so no clip is split at silences.
    Kept on disk: a second call with the same arguments returns the same files."""
    from data_utils.audio import SAMPLE_RATE, write_wav
    from data_utils.sentences import generate_sentences
    from data_utils.synth import espeak_variants, sample_voice, speak

    folder = out / f"clips-{count}-seed{seed}"
    paths = [folder / f"clip{i:04d}.wav" for i in range(count)]
    if all(p.is_file() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    variants = espeak_variants()
    sentences = iter(generate_sentences(count * 12, seed=seed))
    pause = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    for path in paths:
        target = int(rng.uniform(min_seconds, max_seconds) * SAMPLE_RATE)
        voice = sample_voice(rng, variants)
        pieces, total = [], 0
        while total < target:
            piece = speak(next(sentences), voice)
            pieces += [piece, pause]
            total += len(piece) + len(pause)
        clip = np.concatenate(pieces)[:target]
        fade = min(len(clip), SAMPLE_RATE // 100)  # 10 ms fade-out: no click where the cut falls
        clip[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        write_wav(path, clip)
    return paths


def make_training_corpus(out: Path, count: int, seed: int = 0) -> Path:
    """A synthetic training manifest (data_utils.synth), built once and reused."""
    from data_utils.synth import build_corpus

    folder = out / f"corpus-{count}-seed{seed}"
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        build_corpus(folder, num_utterances=count, seed=seed, jobs=2)
    return manifest


# --- weights ------------------------------------------------------------------------------------------

def choose_weights(cache: Path) -> tuple[Path, str]:
    """The model to measure: the bundled demo model, else a freshly initialised `demo` preset model."""
    if (DEMO_MODEL / "model.safetensors").is_file():
        return DEMO_MODEL, f"bundled demo model ({DEMO_MODEL})"
    return fresh_model(cache / "fresh-demo-weights", "demo"), "freshly initialised demo preset (random weights)"


def fresh_model(directory: Path, preset: str, seed: int = 0) -> Path:
    """A randomly initialised multi-task model saved to `directory`."""
    import torch

    from model.codec import JamoCodec
    from model.config import MultiTaskConfig, encoder_config
    from model.network import MultiTaskWav2Vec2

    torch.manual_seed(seed)
    codec = JamoCodec()
    labels = {"age": ["20s", "40s", "60s"], "gender": ["female", "male"], "accent": ["gyeongsang", "jeolla", "seoul"]}
    model = MultiTaskWav2Vec2(encoder_config(preset, len(codec), codec.pad_id), MultiTaskConfig(), labels)
    return model.save_pretrained(directory, codec)


# --- FLOPs and the compute bound ----------------------------------------------------------------------

def conv_output_lengths(config, num_samples: int) -> list[int]:
    """Frames after each feature-encoder conv layer (no padding: L_out = (L_in - K) // S + 1)."""
    lengths, length = [], num_samples
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        length = max(0, (length - kernel) // stride + 1)
        lengths.append(length)
    return lengths


def encoder_flops(config, num_samples: int) -> dict[str, float]:
    """Forward-pass FLOPs (one multiply-add = 2) of Wav2Vec2ForCTC on one utterance, by part.
    Matmuls and convolutions only: norms, activations and softmax are a few per element and
    left out, as is the tiny multi-task head (pooling + three small MLPs)."""
    lengths = conv_output_lengths(config, num_samples)
    channels = [1, *config.conv_dim]
    conv = sum(2.0 * n * channels[i] * config.conv_kernel[i] * channels[i + 1] for i, n in enumerate(lengths))
    frames, hidden, inner = lengths[-1], config.hidden_size, config.intermediate_size
    projection = 2.0 * frames * config.conv_dim[-1] * hidden
    positional = 2.0 * frames * hidden * (hidden // config.num_conv_pos_embedding_groups) * config.num_conv_pos_embeddings
    layers = config.num_hidden_layers
    dense = layers * (2.0 * frames * 4 * hidden * hidden + 2.0 * frames * 2 * hidden * inner)  # QKVO + feed-forward
    attention = layers * 2 * (2.0 * frames * frames * hidden)  # QK^T and attention x V over all heads
    ctc_head = 2.0 * frames * hidden * config.vocab_size
    parts = {"conv": conv, "projection": projection, "positional_conv": positional, "transformer_dense": dense,
             "attention": attention, "ctc_head": ctc_head}
    parts["total"] = sum(parts.values())
    return parts


def flops_for_lengths(config, lengths: Sequence[int]) -> float:
    """Useful forward FLOPs for a set of utterances (each at its own length: no padding)."""
    return float(sum(encoder_flops(config, int(n))["total"] for n in lengths))


def matmul_gflops(threads: int, size: int = 1024, seconds: float = 1.0, device: str = "cpu", dtype=None) -> float:
    """Best matmul rate over repeated (size x size) @ (size x size) products, in GFLOP/s, with
    `threads` intra-op threads: the machine's practical compute bound for these models."""
    import torch

    dtype = dtype or torch.float32
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        torch.mm(a, b)  # first call allocates and picks a kernel
        sync()
        best, deadline = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            torch.mm(a, b)
            sync()
            best = max(best, 2.0 * size**3 / (time.perf_counter() - start) / 1e9)
        return best
    finally:
        torch.set_num_threads(previous)


# --- transcript agreement ------------------------------------------------------------------------------

def normalise_space(text: str) -> str:
    return " ".join(text.split())


def char_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float | None:
    """Total character edits / total reference characters (None when the references are all empty)."""
    from rapidfuzz.distance import Levenshtein

    edits = sum(Levenshtein.distance(r, h) for r, h in zip(references, hypotheses))
    total = sum(len(r) for r in references)
    if total == 0:
        return 0.0 if edits == 0 else None
    return edits / total
