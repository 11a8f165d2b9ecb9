"""data_utils.real_speech on the real samples of ../shared/ (skipped without them)."""

import pandas as pd

from data_utils.manifest import read_manifest
from data_utils.real_speech import build, sentence_key


def test_parts_are_speaker_disjoint_and_the_sentences_leave_out_every_held_out_text(real_speech, tmp_path):
    written = build(real_speech, tmp_path)
    parts = {name: read_manifest(written[name]) for name in ("train", "valid", "test", "deeply")}
    train_speakers = set(parts["train"]["speaker"])
    for name in ("valid", "test", "deeply"):
        assert not train_speakers & set(parts[name]["speaker"]), name
        assert parts[name]["path"].map(lambda p: p.startswith(str(real_speech))).all()
    assert len(parts["valid"]) >= 50 and len(parts["deeply"]) == 300
    # checkpoints are picked on sentences training never heard, not only on unheard voices
    assert not set(parts["valid"]["text"].map(sentence_key)) & set(parts["train"]["text"].map(sentence_key))
    assert "deeply" not in set(parts["train"]["source"])
    # one set of age groups for the age head: Common Voice's decades are mapped into emotiontts's
    assert set(parts["train"]["age"]) - {""} == {"teens", "20-40s", "50s+"}

    sentences = written["sentences"].read_text(encoding="utf-8").splitlines()
    held_out = {sentence_key(t) for name in ("valid", "test", "deeply") for t in parts[name]["text"]}
    assert len(sentences) > 2000 and not {sentence_key(s) for s in sentences} & held_out
    assert {t for t in parts["train"]["text"] if sentence_key(t) not in held_out} <= set(sentences)
    assert pd.Series(sentences).str.fullmatch(r"[가-힣 ]+").mean() > 0.99
