"""Dataset caching, collate and the dynamic batch sampler."""

import numpy as np
import pytest
import torch

from data_utils.batching import IGNORE, Collator, DynamicBatchSampler, load_dataset, make_loader
from data_utils.labels import LabelSet
from data_utils.manifest import read_manifest
from model.codec import JamoCodec


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_each_sample_once_per_epoch_across_ranks(world_size):
    lengths = np.random.default_rng(0).integers(16000, 16000 * 12, size=101)
    for epoch in range(3):
        seen, counts = [], []
        for rank in range(world_size):
            sampler = DynamicBatchSampler(lengths, 30.0, seed=7, rank=rank, world_size=world_size)
            sampler.set_epoch(epoch)
            batches = list(sampler)
            counts.append(len(batches))
            seen += [i for batch in batches for i in batch]
            for batch in batches:
                assert len(batch) == 1 or lengths[batch].max() * len(batch) <= 30 * 16000
        assert sorted(seen) == list(range(101))
        assert len(set(counts)) == 1  # every rank gets the same number of batches


def test_epochs_shuffle_and_resume_mid_epoch():
    lengths = np.random.default_rng(1).integers(16000, 16000 * 8, size=60)
    sampler = DynamicBatchSampler(lengths, 20.0, seed=3)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0, start_batch=4)
    assert list(sampler) == first[4:]
    again = DynamicBatchSampler(lengths, 20.0, seed=3)
    assert list(again) == first  # deterministic for a seed


def test_padding_fraction_on_synthetic_corpus(synth_corpus):
    lengths = [int(d * 16000) for d in read_manifest(synth_corpus / "manifest.csv")["duration"]]
    # A larger corpus with the same length distribution as the synthetic one.
    rng = np.random.default_rng(0)
    many = rng.choice(lengths, 2000) + rng.integers(-1600, 1600, 2000)
    sampler = DynamicBatchSampler(many, 60.0, seed=0)
    fraction = sampler.padding_fraction()
    print(f"\npadding fraction, 2000 utterances, 60 s batches: {fraction:.2%}")
    assert fraction < 0.05
    unsorted = sum(max(b) * len(b) for b in np.array_split(many, len(many) // 15))
    assert fraction < 1 - many.sum() / unsorted  # far better than batching in manifest order


def test_dataset_cache_and_collate(synth_corpus):
    frame = read_manifest(synth_corpus / "train.csv")
    labels = LabelSet.fit(frame)
    dataset = load_dataset(synth_corpus / "train.csv", labels, JamoCodec())
    cached = list((synth_corpus / ".cache").glob("train-*.arrow"))
    assert len(cached) == 1
    again = load_dataset(synth_corpus / "train.csv", labels, JamoCodec())  # read back from the Arrow cache
    assert np.array_equal(again[0]["audio"], dataset[0]["audio"])
    assert list((synth_corpus / ".cache").glob("train-*.arrow")) == cached

    examples = [dataset[i] for i in range(3)]
    examples[1] = {**examples[1], "gender_id": IGNORE}
    batch = Collator(labels.heads)(examples)
    lengths = [len(e["audio"]) for e in examples]
    assert batch["input_values"].shape == (3, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert batch["lengths"].tolist() == lengths
    assert batch["gender"][1] == IGNORE
    for i, example in enumerate(examples):
        n = len(example["labels"])
        assert batch["labels"][i, :n].tolist() == example["labels"].tolist()
        assert (batch["labels"][i, n:] == IGNORE).all()
        assert (batch["input_values"][i, lengths[i]:] == 0).all()
        assert abs(float(batch["input_values"][i, : lengths[i]].mean())) < 1e-3  # normalised per utterance

    sampler = DynamicBatchSampler(dataset.lengths, 10.0, seed=0)
    loader = make_loader(dataset, sampler, labels.heads, num_workers=1)
    total = sum(int(b["lengths"].numel()) for b in loader)
    assert total == len(dataset)


def test_one_loader_follows_the_samplers_epochs(synth_corpus):
    """The training loop keeps one loader (and its worker process) for the whole run: each
    `iter(loader)` must deliver the epoch the sampler was last set to, from its start batch."""
    labels = LabelSet.fit(read_manifest(synth_corpus / "train.csv"))
    dataset = load_dataset(synth_corpus / "train.csv", labels, JamoCodec())
    sampler = DynamicBatchSampler(dataset.lengths, 6.0, seed=3)
    loader = make_loader(dataset, sampler, labels.heads, num_workers=1)
    delivered = {}
    for epoch, start in [(0, 0), (1, 0), (2, 2), (3, 0)]:
        sampler.set_epoch(epoch, start_batch=start)
        expected = [dataset.lengths[b].tolist() for b in sampler.all_batches()[start:]]
        delivered[epoch] = [batch["lengths"].tolist() for batch in loader]
        assert delivered[epoch] == expected, epoch
    assert delivered[0] != delivered[1]  # a new order, not the first epoch's again


def test_unusable_rows_are_reported_not_loaded(tmp_path, synth_corpus):
    frame = read_manifest(synth_corpus / "train.csv", resolve_paths=True)
    frame.loc[0, "path"] = str(tmp_path / "missing.wav")
    frame.loc[1, "text"] = "?!"
    frame.to_csv(tmp_path / "m.csv", index=False)
    dataset = load_dataset(tmp_path / "m.csv", LabelSet.fit(frame), JamoCodec())
    assert len(dataset) == len(frame) - 2
    reasons = {s["row"]: s["reason"] for s in dataset.skipped}
    assert reasons == {0: "file not found", 1: "empty transcript after normalisation"}
    assert torch.is_tensor(Collator()([dataset[0]])["input_values"])


def test_training_and_inference_group_clips_the_same_way():
    from model.segments import batches_by_seconds

    lengths = np.random.default_rng(4).integers(100, 16000 * 9, size=40).tolist()
    unshuffled = DynamicBatchSampler(lengths, 20.0, shuffle=False).all_batches()
    assert batches_by_seconds(lengths, 20.0) == unshuffled


def test_a_batch_of_clips_shorter_than_the_receptive_field_still_trains(tmp_path):
    # A dataset loaded without the receptive-field filter (as `distributed.evaluate` loads its
    # data) still gives batches the encoder runs on: a 100-sample clip alone in its batch is
    # padded up to the receptive field, as the predictor pads it.
    from data_utils.audio import write_wav
    from model.config import MultiTaskConfig, encoder_config, receptive_field
    from model.network import MultiTaskWav2Vec2

    rng = np.random.default_rng(0)
    rows = ["path,text,gender"]
    for i, n in enumerate([100, 16000, 16000]):
        write_wav(tmp_path / f"{i}.wav", rng.normal(0, 0.1, n).astype(np.float32))
        rows.append(f"{i}.wav,가나,{'female' if i % 2 else 'male'}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    labels = LabelSet({"gender": ["female", "male"]})
    dataset = load_dataset(tmp_path / "m.csv", labels, JamoCodec())
    torch.manual_seed(0)
    # SpecAugment off: its masks need mask_time_length (5) frames in a batch, more than the one a
    # clip of the receptive field makes (a separate limit, not the front end's).
    encoder = encoder_config("tiny", len(JamoCodec()), mask_time_prob=0.0)
    model = MultiTaskWav2Vec2(encoder, MultiTaskConfig(heads=["gender"]), labels.classes)
    model.train()
    field = receptive_field(model.encoder_config)
    sampler = DynamicBatchSampler(dataset.lengths, 1.0, shuffle=False)
    batches = list(make_loader(dataset, sampler, labels.heads, num_workers=0, min_samples=field))
    assert [b["lengths"].tolist() for b in batches] == [[100], [16000], [16000]]
    short = batches[0]
    assert short["input_values"].shape == (1, field) and short["attention_mask"].sum() == field
    for batch in batches:
        out = model(batch["input_values"], batch["attention_mask"], batch["labels"], {"gender": batch["gender"]})
        assert torch.isfinite(out.loss)
        out.loss.backward()


def test_training_keeps_no_clip_too_short_for_a_spec_augment_span():
    # A batch whose clips are all shorter than one SpecAugment span made transformers raise in
    # the middle of a run; the training limits drop such clips, and the shortest kept trains.
    from distributed.config import TrainConfig
    from model.config import MultiTaskConfig
    from model.network import MultiTaskWav2Vec2

    config = TrainConfig(preset="tiny", encoder_overrides={"mask_time_prob": 0.5})
    shortest = config.utterance_limits()["min_samples"]
    encoder = config.encoder_config()
    encoder.vocab_size = len(JamoCodec())
    torch.manual_seed(0)
    model = MultiTaskWav2Vec2(encoder, MultiTaskConfig(heads=["gender"]), {"gender": ["female", "male"]}).train()
    audio = torch.randn(1, shortest)
    labels = torch.tensor([JamoCodec().encode("가")])
    out = model(audio, torch.ones_like(audio, dtype=torch.long), labels, {"gender": torch.tensor([0])})
    assert torch.isfinite(out.loss)
