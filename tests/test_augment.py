"""Degraded training audio (data_utils.augment): what it changes, and that it is reproducible."""

import numpy as np

from data_utils.audio import SAMPLE_RATE, load_audio
from data_utils.augment import ROOMS, Augmented, Rooms, augment, room_impulse_response
from data_utils.batching import DynamicBatchSampler, load_dataset, make_loader
from data_utils.labels import LabelSet
from data_utils.manifest import read_manifest
from model.codec import JamoCodec


def tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)


def test_the_chain_keeps_speech_shaped_audio_and_varies_with_its_seed():
    clean = tone()
    outputs = [augment(clean, np.random.default_rng(seed)) for seed in range(40)]
    for out in outputs:
        assert out.dtype == np.float32 and np.abs(out).max() <= 1.0
        assert 0.9 * len(clean) - 2 <= len(out) <= len(clean) / 0.9 + 2  # speed 0.9-1.1
    assert len({len(out) for out in outputs}) > 5  # the speed changes
    assert sum(len(out) == len(clean) and not np.allclose(out, clean, atol=1e-3) for out in outputs) > 5  # noise, rooms
    assert np.array_equal(augment(clean, np.random.default_rng(7)), outputs[7])



def direct_to_reverberant_db(rir: np.ndarray) -> float:
    return float(10 * np.log10(rir[0] ** 2 / np.sum(rir[1:] ** 2)))


def test_rooms_set_the_direct_to_reverberant_ratio_they_name():
    rng = np.random.default_rng(0)
    diffuse = [direct_to_reverberant_db(room_impulse_response(rng, ROOMS["diffuse"])) for _ in range(20)]
    assert max(diffuse) < -20  # the tail at full strength: a far source
    for drr in (-6.0, 0.0, 12.0):
        rir = room_impulse_response(rng, Rooms(rt60=(0.5, 0.5), drr_db=(drr, drr)))
        assert len(rir) == SAMPLE_RATE // 2 and abs(direct_to_reverberant_db(rir) - drr) < 1e-6
    varied = [direct_to_reverberant_db(room_impulse_response(rng, ROOMS["varied"])) for _ in range(50)]
    assert min(varied) >= -6 - 1e-6 and max(varied) <= 12 + 1e-6 and np.std(varied) > 2


def test_rooms_decide_how_many_clips_are_reverberated():
    clean = tone()
    never = Rooms(share=0.0)
    always = Rooms(share=1.0, rt60=(0.5, 0.5), drr_db=(0.0, 0.0))
    # the same seed draws the same speed, band and noise; only the room link differs
    differ = [not np.allclose(augment(clean, np.random.default_rng(s), never),
                              augment(clean, np.random.default_rng(s), always)) for s in range(10)]
    assert all(differ)

def test_augmented_examples_follow_their_seed_and_share(synth_corpus):
    labels = LabelSet.fit(read_manifest(synth_corpus / "train.csv"))
    dataset = load_dataset(synth_corpus / "train.csv", labels, JamoCodec())
    clean = dataset[0]["audio"]
    always, never = Augmented(dataset, 1.0), Augmented(dataset, 0.0)
    assert np.array_equal(never[(0, 11)]["audio"], clean)
    assert np.array_equal(always[(0, 11)]["audio"], always[(0, 11)]["audio"])
    assert not np.array_equal(always[(0, 11)]["audio"], always[(0, 12)]["audio"])
    assert always[(0, 11)]["labels"].tolist() == dataset[0]["labels"].tolist()  # the words are the same
    share = np.mean([not np.array_equal(Augmented(dataset, 0.5)[(0, s)]["audio"], clean) for s in range(200)])
    assert 0.35 < share < 0.65


def test_an_augmenting_loader_degrades_training_clips_and_replays_a_resumed_epoch(synth_corpus):
    labels = LabelSet.fit(read_manifest(synth_corpus / "train.csv"))
    dataset = load_dataset(synth_corpus / "train.csv", labels, JamoCodec())
    sampler = DynamicBatchSampler(dataset.lengths, 6.0, seed=3)
    plain = make_loader(dataset, sampler, labels.heads, num_workers=0)
    degraded = make_loader(dataset, sampler, labels.heads, num_workers=1, augment=1.0, seed=5)
    sampler.set_epoch(1)
    clean_batches, batches = list(plain), list(degraded)
    assert [b["labels"].tolist() for b in batches] == [b["labels"].tolist() for b in clean_batches]
    assert all(not np.array_equal(a["input_values"], b["input_values"]) for a, b in zip(batches, clean_batches))
    sampler.set_epoch(1, start_batch=2)  # a run resumed mid-epoch hears what it would have heard
    for again, first in zip(degraded, batches[2:], strict=True):
        assert np.array_equal(again["input_values"], first["input_values"])


def test_a_degraded_copy_of_a_manifest_is_reproducible_and_leaves_out_what_it_cannot_read(synth_corpus, tmp_path, capsys):
    from data_utils.augment import main

    frame = read_manifest(synth_corpus / "heldout.csv")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    manifest = tmp_path / "valid.csv"
    frame.loc[len(frame)] = {**frame.iloc[0].to_dict(), "path": str(broken)}
    frame.to_csv(manifest, index=False)
    for out in ("a", "b"):
        main(["--manifest", str(manifest), "--out", str(tmp_path / out), "--copies", "2", "--seed", "5"])
    assert "broken.wav: left out" in capsys.readouterr().err
    a, b = read_manifest(tmp_path / "a" / "manifest.csv"), read_manifest(tmp_path / "b" / "manifest.csv")
    assert len(a) == 2 * (len(frame) - 1) and list(a["text"][::2]) == list(frame["text"][:-1])
    assert not any(p.startswith("/") for p in read_manifest(tmp_path / "a" / "manifest.csv", resolve_paths=False)["path"])
    first, again = (load_audio(p) for p in (a["path"][0], b["path"][0]))
    assert np.array_equal(first, again) and not np.array_equal(load_audio(a["path"][0]), load_audio(a["path"][1]))
