"""Synthetic audio the benches measure on: folders of clips of mixed length, training corpora,
and long recordings tiled from a corpus. Everything is built once under the cache folder and
reused, so a second run skips the synthesis.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np


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


def make_long_recording(manifest: Path, minutes: float, out: Path, pause_seconds: float = 1.0) -> Path:
    """One 16 kHz wav of `minutes`: the manifest's utterances in order, each followed by
    `pause_seconds` of silence, tiled and cut at the target length (as tests/test_stream.py
    builds its lecture). Written round by round, so an hour never sits in memory (230 MB as
    float32), and under a temporary name, so an interrupted build is not taken for a finished one."""
    import soundfile as sf

    from data_utils.audio import SAMPLE_RATE, load_audio
    from data_utils.manifest import read_manifest

    path = out / f"{manifest.parent.name}-{minutes:g}min.wav"
    if path.is_file():
        return path
    out.mkdir(parents=True, exist_ok=True)
    pause = np.zeros(int(pause_seconds * SAMPLE_RATE), dtype=np.float32)
    one_round = np.concatenate([x for p in read_manifest(manifest)["path"] for x in (load_audio(p), pause)])
    partial = path.with_name(path.name + ".partial")
    remaining = int(minutes * 60 * SAMPLE_RATE)
    with sf.SoundFile(str(partial), "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV") as handle:
        while remaining > 0:
            handle.write(one_round[:remaining])
            remaining -= min(remaining, len(one_round))
    partial.replace(path)
    return path
