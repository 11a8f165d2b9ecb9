"""Manifest -> Arrow-cached dataset -> length-grouped dynamic batches -> padded tensors.

Audio is decoded once by the project's loader inside `datasets.Dataset.map` and cached as an
Arrow file keyed by the manifest's content, so later epochs and later runs read memory-mapped
arrays instead of decoding again.

`group_by_length` and `pad_waveforms` are the one batching core: training and evaluation use
them here (`DynamicBatchSampler`, `Collator`), inference through `model.predict`.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from data_utils.audio import SAMPLE_RATE, AudioError, load_audio
from data_utils.labels import IGNORE, LabelSet
from data_utils.manifest import HEADS, read_manifest
from data_utils.text import TextNormalizer

CACHE_VERSION = 1


def _decode_row(row: dict, codec, labels: LabelSet, normalizer: TextNormalizer, max_seconds: float) -> dict:
    try:
        audio = load_audio(row["path"], max_seconds=max_seconds)
        error = ""
    except AudioError as failure:
        audio, error = np.zeros(0, dtype=np.float32), failure.reason
    text = normalizer(row["text"]) or ""
    return {"audio": audio, "length": len(audio), "error": error, "labels": codec.encode(text), "text": text,
            **{f"{head}_id": labels.encode(head, row.get(head, "")) for head in labels.heads}}


def load_dataset(manifest, labels: LabelSet, codec, cache_dir=None, num_proc: int = 1,
                 normalizer: TextNormalizer | None = None, max_seconds: float = 30.0, min_samples: int = 0):
    """A `datasets.Dataset` of decoded audio and encoded targets for one manifest. `codec` turns
    text into label ids (`encode`, and its `vocab` keys the cache): the model's, which the
    caller knows (`model.codec.JamoCodec`); data_utils stays below the model.

    Rows whose audio cannot be loaded, is shorter than `min_samples` (the model's receptive
    field: its conv front end cannot run on less), or whose text is empty after normalisation
    are left out of the returned dataset and listed in `dataset.skipped` with the reason.
    """
    import datasets

    normalizer = normalizer or TextNormalizer()
    manifest = Path(manifest)
    frame = read_manifest(manifest)
    key = hashlib.sha256(json.dumps([CACHE_VERSION, frame.to_csv(index=False), labels.classes, codec.vocab,
                                     vars(normalizer.config), max_seconds], ensure_ascii=False).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir or manifest.parent / ".cache")
    cache_file = cache_dir / f"{manifest.stem}-{key}.arrow"
    if cache_file.exists():
        dataset = datasets.Dataset.from_file(str(cache_file))
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        rows = frame[["path", "text", *labels.heads]].to_dict(orient="list")
        raw = datasets.Dataset.from_dict(rows)
        features = datasets.Features({
            "audio": datasets.Sequence(datasets.Value("float32")), "length": datasets.Value("int64"),
            "error": datasets.Value("string"), "labels": datasets.Sequence(datasets.Value("int16")),
            "text": datasets.Value("string"),
            **{f"{head}_id": datasets.Value("int64") for head in labels.heads},
        })
        dataset = raw.map(_decode_row, fn_kwargs=dict(codec=codec, labels=labels, normalizer=normalizer, max_seconds=max_seconds),
                          remove_columns=["path", "text", *labels.heads], features=features,
                          num_proc=num_proc if num_proc > 1 else None, cache_file_name=str(cache_file),
                          desc=f"decoding {manifest.name}")
    errors = [(i, e) for i, e in enumerate(dataset["error"]) if e]
    failed = {i for i, _ in errors}
    short = [i for i, n in enumerate(dataset["length"]) if n < min_samples and i not in failed]
    empty = [i for i, n in enumerate(dataset["text"]) if not n]
    keep = sorted(set(range(len(dataset))) - failed - set(short) - set(empty))
    skipped = [{"row": i, "path": frame["path"][i], "reason": e} for i, e in errors]
    skipped += [{"row": i, "path": frame["path"][i], "reason": f"shorter than the model's receptive field "
                 f"({min_samples} samples)"} for i in short]
    skipped += [{"row": i, "path": frame["path"][i], "reason": "empty transcript after normalisation"} for i in empty]
    if len(keep) < len(dataset):
        dataset = dataset.select(keep)
    lengths = np.asarray(dataset["length"], dtype=np.int64)
    dataset = dataset.with_format("numpy", columns=["audio", "labels", *[f"{h}_id" for h in labels.heads]])
    dataset.skipped, dataset.lengths = skipped, lengths  # rows left out (with reasons); samples per row
    return dataset


def normalize_waveform(audio: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (what Wav2Vec2FeatureExtractor's do_normalize does)."""
    return (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)


def pad_waveforms(arrays, min_samples: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Waveforms as one zero-padded batch: input_values (B, T), each normalised over its own
    samples, and attention_mask (B, T). A clip shorter than `min_samples` (the encoder's
    receptive field) counts as padded with silence up to it: the conv front end cannot run on
    less, nor mask a clip to zero frames."""
    longest = max([min_samples, *(len(a) for a in arrays)])
    input_values = torch.zeros(len(arrays), longest)
    attention_mask = torch.zeros(len(arrays), longest, dtype=torch.long)
    for i, audio in enumerate(arrays):
        input_values[i, : len(audio)] = torch.from_numpy(normalize_waveform(np.asarray(audio, dtype=np.float32)))
        attention_mask[i, : max(len(audio), min_samples)] = 1
    return input_values, attention_mask


class Collator:
    """Pads a list of examples into tensors.

    input_values (B, T) and attention_mask (B, T) from `pad_waveforms`; labels (B, L) jamo ids
    padded with -100; one (B,) tensor per head with -100 where unknown; lengths (B,) in samples
    (the audio's own, without the padding up to `min_samples`).
    """

    def __init__(self, heads: tuple[str, ...] = HEADS, min_samples: int = 0):
        self.heads, self.min_samples = heads, min_samples

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        input_values, attention_mask = pad_waveforms([e["audio"] for e in examples], self.min_samples)
        max_label = max((len(e["labels"]) for e in examples), default=0)
        labels = torch.full((len(examples), max(max_label, 1)), IGNORE, dtype=torch.long)
        for i, example in enumerate(examples):
            target = np.asarray(example["labels"], dtype=np.int64)
            labels[i, : len(target)] = torch.from_numpy(target)
        out = {"input_values": input_values, "attention_mask": attention_mask, "labels": labels,
               "lengths": torch.tensor([len(e["audio"]) for e in examples])}
        for head in self.heads:
            key = f"{head}_id"
            out[head] = torch.tensor([int(e[key]) if key in e else IGNORE for e in examples], dtype=torch.long)
        return out


def group_by_length(lengths, max_samples: int, order=None, max_batch_size: int | None = None,
                    equal_lengths: bool = False) -> list[list[int]]:
    """Indices taken in `order` (default: by length, stably) and cut into batches whose size x
    longest stays within `max_samples` of padded audio (a longer clip gets a batch of its own),
    of at most `max_batch_size` clips, and with `equal_lengths` of one length only (for
    encoders whose outputs change with padding: group norm)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable") if order is None else np.asarray(order)
    batches, current, current_max = [], [], 0
    for index in order.tolist():
        length = int(lengths[index])
        longest = max(current_max, length)
        full = max_batch_size is not None and len(current) >= max_batch_size
        full = full or (equal_lengths and bool(current) and length != current_max)
        if current and (longest * (len(current) + 1) > max_samples or full):
            batches.append(current)
            current, longest = [], length
        current.append(index)
        current_max = longest
    if current:
        batches.append(current)
    return batches


class DynamicBatchSampler(Sampler[list[int]]):
    """Groups utterances of similar length into batches of at most `max_batch_seconds` of padded
    audio, shuffles the batches per epoch (seeded), and deals them out to `world_size` ranks so
    that every sample appears exactly once per epoch across all ranks and every rank gets the
    same number of batches (needed for DDP and for equal `ray.train.report` calls)."""

    def __init__(self, lengths, max_batch_seconds: float, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, sample_rate: int = SAMPLE_RATE, max_batch_size: int | None = None,
                 equal_lengths: bool = False):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if len(self.lengths) < world_size:
            raise ValueError(f"{len(self.lengths)} samples cannot be shared by {world_size} ranks")
        self.max_samples = int(max_batch_seconds * sample_rate)
        self.seed, self.rank, self.world_size, self.shuffle = seed, rank, world_size, shuffle
        self.max_batch_size = max_batch_size
        self.equal_lengths = equal_lengths  # for encoders whose output padding changes (group norm)
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's shuffle; `start_batch` skips batches this rank already trained on
        (resuming mid-epoch gives the same data order as a run that never stopped)."""
        self.epoch, self.start_batch = epoch, start_batch

    def all_batches(self) -> list[list[int]]:
        """This epoch's batches for all ranks, in dealing order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        # A little jitter changes which neighbours share a batch from epoch to epoch.
        jitter = rng.uniform(0.98, 1.02, len(self.lengths)) if self.shuffle else np.ones(len(self.lengths))
        order = np.argsort(self.lengths * jitter, kind="stable")
        batches = group_by_length(self.lengths, self.max_samples, order, self.max_batch_size, self.equal_lengths)
        # Equal batch counts per rank without repeating samples: split the largest batches.
        while len(batches) % self.world_size:
            largest = max(range(len(batches)), key=lambda b: len(batches[b]))
            if len(batches[largest]) < 2:
                raise ValueError("too few samples to give every rank a batch")
            batch = batches.pop(largest)
            batches[largest:largest] = [batch[: len(batch) // 2], batch[len(batch) // 2:]]
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(batches)
        return batches

    def __iter__(self):
        return iter(self.all_batches()[self.rank :: self.world_size][self.start_batch :])

    def __len__(self) -> int:
        return len(self.all_batches()) // self.world_size - self.start_batch

    def padding_fraction(self) -> float:
        """Share of padded samples in this epoch's batches (all ranks)."""
        padded = real = 0
        for batch in self.all_batches():
            lengths = self.lengths[batch]
            padded += int(lengths.max()) * len(batch)
            real += int(lengths.sum())
        return 1.0 - real / padded if padded else 0.0


def make_loader(dataset, sampler: DynamicBatchSampler, heads: tuple[str, ...], num_workers: int = 1,
                pin_memory: bool = False, min_samples: int = 0, augment: float = 0.0, seed: int = 0) -> DataLoader:
    """`min_samples`: the encoder's receptive field, which every padded clip is given (`pad_waveforms`).
    `augment`: the share of clips heard through `data_utils.augment.augment`, drawn afresh per
    epoch and seeded from `seed` (training only)."""
    if augment > 0:
        from data_utils.augment import Augmented, SeededBatches

        dataset, sampler = Augmented(dataset, augment), SeededBatches(sampler, seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=Collator(heads, min_samples), num_workers=num_workers,
                      pin_memory=pin_memory, persistent_workers=num_workers > 0,
                      prefetch_factor=4 if num_workers > 0 else None)


def audio_seconds(batch: dict) -> float:
    return float(batch["lengths"].sum()) / SAMPLE_RATE
