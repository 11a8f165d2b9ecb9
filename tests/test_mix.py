import pandas as pd
import pytest

from data_utils.manifest import read_manifest, write_manifest
from data_utils.mix import main, parse_sample


def manifest(path, n, label):
    frame = pd.DataFrame({"path": [f"wavs/{label}{i}.wav" for i in range(n)], "text": ["가나"] * n,
                          "gender": [label] * n, "age": ["20s"] * n, "duration": [1.0] * n})
    return write_manifest(frame, path)


def test_labelled_repeat_and_sampled_transcripts_lose_their_head_labels(tmp_path):
    real = manifest(tmp_path / "real" / "train.csv", 3, "female")
    synth = manifest(tmp_path / "synth" / "train.csv", 10, "male")
    out = tmp_path / "mix.csv"
    main(["--out", str(out), "--labelled", str(real), "--repeat", "2", "--transcripts-only", f"{synth}:4"])
    mixed = read_manifest(out)
    assert len(mixed) == 3 * 2 + 4
    assert mixed["gender"].tolist() == ["female"] * 6 + [""] * 4 and (mixed["age"].iloc[6:] == "").all()
    assert mixed["path"].map(lambda p: p.startswith(str(tmp_path))).all()  # absolute, wherever OUT is
    assert len(set(mixed["path"].iloc[6:])) == 4


def test_asking_for_more_clips_than_a_manifest_has_is_an_error(tmp_path):
    synth = manifest(tmp_path / "train.csv", 2, "male")
    with pytest.raises(ValueError, match="3 clips asked for, it has 2"):
        main(["--out", str(tmp_path / "mix.csv"), "--transcripts-only", f"{synth}:3"])


def test_a_count_follows_the_last_colon_only():
    assert parse_sample("C:/data/train.csv:20") == (parse_sample("C:/data/train.csv")[0], 20)
    assert parse_sample("train.csv") == (parse_sample("train.csv")[0], None)
