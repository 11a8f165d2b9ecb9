"""Degraded copies of clean speech: the rooms, channels and noise that real recordings bring.

`augment` is one random chain (speed, reverberation, telephone band, noise, gain), each link
with its own probability, as Kaldi's speed perturbation and the reverberation/noise recipes of
speech toolkits do it. Distillation (`distributed.distill`) hears every crop through it;
fine-tuning (`TrainConfig.augment`) hears a share of its clips through it, each time a clip is
drawn afresh: the words are unchanged, so the transcript still holds.

    python -m data_utils.augment --manifest valid.csv --out DIR [--copies 3] [--seed 0]

writes a degraded copy of a manifest (each clip `--copies` times, WAV files and DIR/manifest.csv):
a validation set that hears rooms and microphones, for choices a clean one cannot see
(`model.interpolate`). A clip that cannot be read is reported and left out.

`Augmented` and `SeededBatches` put it into a `DataLoader` without losing resumability: a
clip's degradation is seeded by (run seed, epoch, batch, clip), so a resumed run hears what an
uninterrupted one would have, whichever loader worker draws it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soxr
import torch
from scipy.signal import fftconvolve

from data_utils.audio import SAMPLE_RATE, load_audio, write_wav
from data_utils.manifest import read_manifest, write_manifest


@dataclass(frozen=True)
class Rooms:
    """How `augment` puts speech in a room: the share of clips, the RT60 range (seconds), and the
    direct-to-reverberant ratio range in dB. `drr_db=None` leaves the decaying-noise tail at
    full strength against a unit direct path, -22 to -29 dB: a far, diffuse source, as the
    first recipes heard it. Real rooms at speaking distance are near -5 to +10 dB."""
    share: float = 0.3
    rt60: tuple[float, float] = (0.15, 0.7)
    drr_db: tuple[float, float] | None = None


# "diffuse" is what the shipped recipes used; "varied", rooms as near and far as real ones
ROOMS = {"diffuse": Rooms(), "varied": Rooms(share=0.6, rt60=(0.2, 1.2), drr_db=(-6.0, 12.0))}


def room_impulse_response(rng: np.random.Generator, rooms: Rooms) -> np.ndarray:
    """A unit direct path then exponentially decaying noise (60 dB down after the RT60)."""
    rt60 = rng.uniform(*rooms.rt60)
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    if rooms.drr_db is not None:
        tail_energy = np.sum(rir[1:] ** 2) + 1e-12
        rir *= np.sqrt(10 ** (-rng.uniform(*rooms.drr_db) / 10) / tail_energy)
    rir[0] = 1.0
    return rir


def augment(audio: np.ndarray, rng: np.random.Generator, rooms: Rooms = ROOMS["diffuse"]) -> np.ndarray:
    """One random degradation chain; each step with its own probability."""
    if rng.random() < 0.6:  # speed (tempo and pitch together), as Kaldi's speed perturbation
        audio = soxr.resample(audio, SAMPLE_RATE * rng.uniform(0.9, 1.1), SAMPLE_RATE)
    if rng.random() < rooms.share:
        wet = fftconvolve(audio, room_impulse_response(rng, rooms))[: len(audio)]
        audio = wet * (np.abs(audio).max() / (np.abs(wet).max() + 1e-9))
    if rng.random() < 0.2:  # a telephone-band channel
        audio = soxr.resample(soxr.resample(audio, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)
    if rng.random() < 0.5:  # white or brown-ish noise at 5-30 dB SNR
        noise = rng.standard_normal(len(audio))
        if rng.random() < 0.5:
            noise = np.cumsum(noise)
            noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
        snr = rng.uniform(5, 30)
        noise *= np.sqrt(np.mean(audio ** 2) / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr / 10))
        audio = audio + noise
    audio = audio * 10 ** (rng.uniform(-6, 6) / 20)
    return np.clip(audio, -1, 1).astype(np.float32)


class Augmented(torch.utils.data.Dataset):
    """A dataset of examples with an "audio" array, keyed by (index, seed) pairs (`SeededBatches`):
    with probability `share` the example's audio is replaced by `augment` seeded by `seed`."""

    def __init__(self, dataset, share: float):
        self.dataset, self.share = dataset, share

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, seed = key
        example = dict(self.dataset[index])
        rng = np.random.default_rng(seed)
        if rng.random() < self.share:
            example["audio"] = augment(np.asarray(example["audio"], dtype=np.float32), rng)
        return example


class SeededBatches(torch.utils.data.Sampler):
    """Wraps a batch sampler with `epoch` and `start_batch` (`DynamicBatchSampler`): each index
    comes with a seed from (seed, epoch, batch number in the epoch, index), for `Augmented`."""

    def __init__(self, batches, seed: int):
        self.batches, self.seed = batches, seed

    def __iter__(self):
        epoch, start = self.batches.epoch, self.batches.start_batch
        for number, batch in enumerate(self.batches, start=start):
            yield [(index, int(np.random.SeedSequence([self.seed, epoch, number, index]).generate_state(1)[0]))
                   for index in batch]

    def __len__(self) -> int:
        return len(self.batches)


def degrade_manifest(manifest, out: Path, copies: int = 3, seed: int = 0) -> Path:
    """Each clip of `manifest` through `augment` `copies` times, seeded by (seed, row, copy)."""
    frame = read_manifest(manifest)
    out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for row_number, row in enumerate(frame.to_dict("records")):
        try:
            audio = load_audio(row["path"])
        except (OSError, ValueError) as error:
            print(f"{row['path']}: left out: {error}", file=sys.stderr)
            failed += 1
            continue
        for copy in range(copies):
            degraded = augment(audio, np.random.default_rng([seed, row_number, copy]))
            path = out / f"{Path(row['path']).stem}-{copy}.wav"
            write_wav(path, degraded)
            rows.append({**row, "path": str(path), "duration": len(degraded) / SAMPLE_RATE})
    if failed:
        print(f"{failed} of {len(frame)} clips could not be read", file=sys.stderr)
    return write_manifest(pd.DataFrame(rows, columns=frame.columns), out / "manifest.csv", relative_to=out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A degraded copy of a manifest (speed, room, band, noise).")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(degrade_manifest(args.manifest, args.out, args.copies, args.seed))


if __name__ == "__main__":
    main()
