import hashlib

import pandas as pd

from data_utils.manifest import MANIFEST_COLUMNS, read_manifest
from data_utils.sentences import generate_sentences, jamo_inventory, syllable_count
from data_utils.synth import GAP_ACCENTS, SPEED_GROUPS, build_corpus, espeak_variants


def test_sentences_are_varied_korean_of_bounded_length():
    sentences = generate_sentences(2000, seed=0, pseudo_share=0.2)
    assert len(set(sentences)) == 2000
    assert all(3 <= syllable_count(s) <= 30 for s in sentences)
    assert len({w for s in sentences for w in s.split()}) > 1500  # a large vocabulary in use
    # Every modern initial, medial and final occurs, each in many contexts.
    decomposed = jamo_inventory(sentences)
    assert len(decomposed["lead"]) == 19 and len(decomposed["vowel"]) == 21 and len(decomposed["tail"]) == 27
    assert min(decomposed["tail"].values()) >= 5


def test_sentences_deterministic_for_a_seed():
    assert generate_sentences(50, seed=4) == generate_sentences(50, seed=4)
    assert generate_sentences(50, seed=4) != generate_sentences(50, seed=5)


def test_every_espeak_variant_has_a_gender():
    variants = espeak_variants()
    assert len(variants) > 20
    assert {g for _, g in variants} == {"female", "male"}


def digest(folder):
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.glob("wavs/*.wav")))).hexdigest()


def test_corpus_manifest_labels_and_holdout(synth_corpus):
    manifest = read_manifest(synth_corpus / "manifest.csv")
    assert list(pd.read_csv(synth_corpus / "manifest.csv").columns[:7]) == MANIFEST_COLUMNS
    assert len(manifest) == 24 and manifest["duration"].between(0.3, 15).all()
    for row in manifest.itertuples():
        variant, pitch, speed, gap = row.speaker.rsplit("-", 3)
        low, high = SPEED_GROUPS[row.age]
        assert low <= int(speed[1:]) <= high  # age group is the documented proxy: speaking rate
        low, high = GAP_ACCENTS[row.accent]
        assert low <= int(gap[1:]) <= high  # accent: pauses between words
        assert dict(espeak_variants())[variant] == row.gender
    train = read_manifest(synth_corpus / "train.csv")
    heldout = read_manifest(synth_corpus / "heldout.csv")
    assert len(train) + len(heldout) == 24 and len(heldout) == 6
    assert not set(train["text"]) & set(heldout["text"])
    assert not set(train["speaker"]) & set(heldout["speaker"])


def test_corpus_is_deterministic(tmp_path, synth_corpus):
    build_corpus(tmp_path, num_utterances=24, seed=3, jobs=1, holdout=0.25)
    assert (tmp_path / "manifest.csv").read_text() == (synth_corpus / "manifest.csv").read_text()
    assert digest(tmp_path) == digest(synth_corpus)


def test_corpus_from_a_sentence_file_holds_out_sentences_and_whole_variants(tmp_path):
    texts = [f"문장 {word} 읽어요" for word in "하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉 열".split()]
    build_corpus(tmp_path, num_utterances=16, seed=5, jobs=2, holdout=0.2, sentences=texts + texts[:3],
                 holdout_variants=True, split_heldout=True)
    train, heldout = read_manifest(tmp_path / "train.csv"), read_manifest(tmp_path / "heldout.csv")
    assert len(heldout) == 2 and len(train) == 14  # 20 % of the 10 distinct sentences, each once
    valid, test = read_manifest(tmp_path / "valid.csv"), read_manifest(tmp_path / "test.csv")
    assert valid["path"].tolist() + test["path"].tolist() == heldout["path"].tolist()[::2] + heldout["path"].tolist()[1::2]
    assert set(train["text"]) | set(heldout["text"]) <= set(texts)
    assert not set(train["text"]) & set(heldout["text"])
    assert len(set(train["text"])) == 8  # every training sentence is spoken, by more than one voice
    variant = lambda speaker: speaker.rsplit("-", 3)[0]  # noqa: E731
    assert not {variant(s) for s in train["speaker"]} & {variant(s) for s in heldout["speaker"]}
