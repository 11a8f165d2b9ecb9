"""Robustness: every kind of bad input, through every entry point that meets it.

A corpus of bad audio files and bad metadata (built by `tests/bad_inputs.py` in a temporary
folder) goes through `load_audio`, batch prediction (`Predictor.predict_files`) and
`data_utils.prepare`; each case has a documented outcome in the tables below: it loads
correctly, or it is refused with a reason that names the file and what is wrong. Nothing may
crash, and one bad input must not stop the others. A training run with non-finite losses
checks that such batches are skipped, counted and never reach the weights.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from data_utils.audio import SAMPLE_RATE, AudioError, load_audio
from data_utils.labels import IGNORE, LabelSet
from data_utils.manifest import read_manifest
from data_utils.prepare import main as prepare_main
from data_utils.prepare import prepare
from model.codec import JamoCodec
from model.predict import Predictor
from tests import bad_inputs
from tests.training_runs import records, run_training

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    """What the toolkit documents for one bad input."""

    loads: bool
    seconds: float | None = None  # loads: about this long
    tolerance: float = 0.002
    reason: str = ""  # refused: the regex the reason matches
    category: str = ""  # refused: prepare's report reason for a row naming this input


def loads(seconds: float = bad_inputs.CLIP_SECONDS, tolerance: float = 0.002) -> Outcome:
    return Outcome(True, seconds, tolerance)


def refused(reason: str, category: str = "") -> Outcome:
    return Outcome(False, reason=reason, category=category)


CODEC = 0.03  # lossy codecs pad or trim a few ms

# Audio: what `load_audio` documents for each file (and prepare's report category when it refuses).
AUDIO_TABLE: dict[str, Outcome] = {
    "zero_bytes.wav": refused(r"^empty file \(0 bytes\)$", "undecodable audio"),
    "header_only.wav": refused(r"^no audio samples \(header only or truncated\)$", "undecodable audio"),
    "truncated_mid_sample.wav": loads(0.249),  # what is there: the half before the cut
    "truncated.mp3": refused(r"^(cannot decode mp3 data \(.+\)|no audio samples .*)$", "undecodable audio"),
    "random_bytes.wav": refused(r"^not a recognised audio format", "undecodable audio"),
    "wav_header_then_garbage.wav": refused(r"^cannot decode wav data \(.+\)$", "undecodable audio"),
    "text_file.mp3": refused(r"^not a recognised audio format", "undecodable audio"),
    "flac_named.mp3": loads(),  # the content decides, not the name
    "all_zero.wav": refused(r"^silent: no signal above -80 dBFS$", "silent audio"),
    "clipped.wav": loads(),
    "beyond_full_scale.wav": loads(),  # clipped to [-1, 1]
    "nan_inf.wav": refused(r"^contains NaN or infinite samples$", "undecodable audio"),
    "one_ms.wav": loads(0.001, 0.0),
    "over_max_duration.wav": refused(r"^too long: 601\.0 s \(limit 600 s\)$", "audio too long"),
    "rate_8000.wav": loads(),
    "rate_11025.wav": loads(),
    "rate_22050.wav": loads(),
    "rate_44100.wav": loads(),
    "rate_48000.wav": loads(),
    "stereo.wav": loads(),
    "pcm24.wav": loads(),
    "float32.wav": loads(),
    "clip.mp3": loads(tolerance=CODEC),
    "clip.ogg": loads(tolerance=CODEC),
    "clip.opus": loads(tolerance=CODEC),
    "clip.webm": loads(tolerance=CODEC),
    "clip.m4a": loads(tolerance=CODEC),
    "녹음 파일 01.m4a": loads(tolerance=CODEC),
    "a_folder.wav": refused(r"^is a directory, not an audio file$", "missing audio"),  # prepare: not a file
    "missing.wav": refused(r"^file not found$", "missing audio"),
}


@dataclass(frozen=True)
class RowOutcome:
    """A metadata row: kept with these normalised fields, or listed in rejected.csv with this reason."""

    reason: str = ""
    kept: dict = field(default_factory=dict)


# Metadata rows of rows.csv (`prepare --source csv`), one fault each.
ROW_TABLE: dict[str, RowOutcome] = {
    "empty transcript": RowOutcome("empty text"),
    "transcript only punctuation": RowOutcome("empty text"),
    "transcript only Latin letters": RowOutcome(kept={"text": "케이비에스"}),  # default policy: read out
    # Kept: an unknown gender is unknown (""), other unknown labels stay as written. At training
    # time a label the training part lacks encodes to -100 (see the test below).
    "labels unseen at training time": RowOutcome(kept={"age": "외계인", "gender": "", "accent": "화성"}),
    "NaN labels": RowOutcome(kept={"age": "", "gender": "", "accent": ""}),
    "duplicate row": RowOutcome("duplicate row"),
    "path that does not exist": RowOutcome("missing audio"),
    "path escaping the corpus (relative)": RowOutcome("path outside corpus"),
    "path escaping the corpus (absolute)": RowOutcome("path outside corpus"),
    "empty path": RowOutcome("no audio path"),
    "row with an unquoted delimiter": RowOutcome("malformed metadata line"),
}

# Whole metadata files, through the `prepare` CLI: exit status and what it prints.
TWO_TEXTS = {"첫 번째 문장입니다", "두 번째 문장이에요"}
TABLE_TABLE: dict[str, Outcome] = {
    "missing path and text columns": refused(r"missing_columns\.csv: no path or text column \(have file_id, words\)"),
    "missing text column": refused(r"missing_text\.csv: no text column \(have path\)"),
    "semicolon delimiter": loads(),  # the separator is detected
    "tab delimiter": loads(),
    "wrong --delimiter given": refused(r"comma_read_as_tab\.csv: no path or text column"),
    "cp949 encoding": loads(),  # detected when the file is not UTF-8
    "UTF-8 with BOM": loads(),
    "CRLF line ends": loads(),
    "neither UTF-8 nor cp949": refused(r"undecodable\.csv: cannot decode"),
    "empty file": refused(r"empty\.csv: not a readable table"),
    "header only, no rows": refused(r"no usable rows"),
}


@dataclass
class Tally:
    """Counts for the printed summary: outcomes as documented, and anything else."""

    tried: int = 0
    loaded: int = 0
    refused: int = 0
    crashes: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def add(self, case: str, expected: bool, got_loaded: bool | None, ok: bool, detail: str = "") -> None:
        self.tried += 1
        if got_loaded is None:
            self.crashes.append(f"{case}: {detail}")
        elif not ok or expected != got_loaded:
            self.wrong.append(f"{case}: {detail}")
        elif got_loaded:
            self.loaded += 1
        else:
            self.refused += 1

    def summary(self, what: str) -> str:
        return (f"{what}: {self.tried} bad inputs tried: {self.loaded} loaded as documented, {self.refused} refused "
                f"with the documented reason, {len(self.crashes)} crashes, {len(self.wrong)} other outcomes")

    def check(self, what: str) -> None:
        print("\n" + self.summary(what))
        for name in ("tried", "loaded", "refused"):
            setattr(TOTAL, name, getattr(TOTAL, name) + getattr(self, name))
        TOTAL.crashes += self.crashes
        TOTAL.wrong += self.wrong
        assert not self.crashes and not self.wrong, "\n".join(self.crashes + self.wrong)


TOTAL = Tally()  # over every entry point of this module, printed when the module is done


@pytest.fixture(scope="module", autouse=True)
def print_total():
    yield
    print("\n" + TOTAL.summary("all entry points"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad-inputs") / "corpus"


@pytest.fixture(scope="module")
def audio(corpus) -> dict[str, Path]:
    return bad_inputs.build_audio_corpus(corpus / "audio")


def test_the_tables_cover_every_generated_case():
    # A case added to the generator without a documented outcome would go untested.
    assert set(AUDIO_TABLE) == set(bad_inputs.AUDIO_WRITERS)
    assert set(ROW_TABLE) == set(bad_inputs.ROW_CASES)
    assert set(TABLE_TABLE) == set(bad_inputs.TABLE_CASES)


# --- audio ------------------------------------------------------------------------------------

def matches_loaded(samples: np.ndarray, outcome: Outcome) -> bool:
    return (samples.dtype == np.float32 and samples.ndim == 1 and len(samples) > 0 and bool(np.isfinite(samples).all())
            and float(np.abs(samples).max()) <= 1.0
            and abs(len(samples) / SAMPLE_RATE - outcome.seconds) <= outcome.tolerance + 0.5 / SAMPLE_RATE)


def test_every_bad_audio_file_loads_or_is_refused_as_documented(audio):
    tally = Tally()
    for name, path in audio.items():
        outcome = AUDIO_TABLE[name]
        try:
            samples = load_audio(path)
        except AudioError as error:
            ok = error.path == str(path) and re.search(outcome.reason, error.reason) is not None
            tally.add(name, outcome.loads, False, ok, f"refused: {error.reason}")
        except Exception as error:  # anything but AudioError is a crash
            tally.add(name, outcome.loads, None, False, f"{type(error).__name__}: {error}")
        else:
            tally.add(name, outcome.loads, True, matches_loaded(samples, outcome),
                      f"loaded {len(samples) / SAMPLE_RATE:.4f} s, peak {np.abs(samples).max():.3f}")
    tally.check("load_audio")
    assert tally.tried == len(AUDIO_TABLE)


def test_batch_prediction_finishes_the_rest_and_reports_every_failure(audio, model_dir):
    predictor = Predictor.from_pretrained(model_dir)
    paths = list(audio.values())
    # Small rounds, so bad files fall into several of them.
    predictions = predictor.predict_files(paths, files_per_round=8)
    assert [p.path for p in predictions] == [str(p) for p in paths]  # one result per input, in order
    tally = Tally()
    for name, prediction in zip(audio, predictions):
        outcome = AUDIO_TABLE[name]
        if prediction.error:
            tally.add(name, outcome.loads, False, re.search(outcome.reason, prediction.error) is not None,
                      f"error: {prediction.error}")
            continue
        heads_ok = set(prediction.heads) == {"gender", "age"} and all(
            0.0 <= h.probability <= 1.0 and abs(sum(h.distribution.values()) - 1) < 1e-4 for h in prediction.heads.values())
        duration_ok = abs(prediction.duration - outcome.seconds) <= outcome.tolerance + 0.5 / SAMPLE_RATE
        tally.add(name, outcome.loads, True, heads_ok and duration_ok and isinstance(prediction.text, str),
                  f"predicted {prediction.duration:.4f} s, heads {prediction.heads}")
    tally.check("predict_files")


def test_a_clip_shorter_than_one_frame_is_predicted_on_its_own(audio, model_dir):
    # Alone in its batch, a 1 ms clip is shorter than the conv front end's receptive field.
    prediction = Predictor.from_pretrained(model_dir).predict_files([audio["one_ms.wav"]])[0]
    assert prediction.error == "" and prediction.duration == pytest.approx(0.001)
    assert prediction.heads["gender"].label in ("female", "male")


# --- metadata ---------------------------------------------------------------------------------

def read_rejected(out: Path) -> list[dict]:
    with open(out / "rejected.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def kept_rows(out: Path) -> pd.DataFrame:
    """The rows of train/valid/test.csv, with absolute paths."""
    return pd.concat([read_manifest(out / f"{part}.csv") for part in ("train", "valid", "test")], ignore_index=True)


def test_prepare_keeps_good_rows_and_reports_every_bad_row(corpus, audio):
    table, named = bad_inputs.build_row_table(corpus, audio)
    out = corpus.parent / "prepared"
    summary = prepare("csv", table, out)

    expected_rejections = {(named[case], outcome.reason) for case, outcome in ROW_TABLE.items() if outcome.reason}
    expected_rejections |= {(named[f"audio: {name}"], outcome.category)
                            for name, outcome in AUDIO_TABLE.items() if not outcome.loads}
    rejected = read_rejected(out)
    found = {(row["path"], row["reason"]) for row in rejected}
    kept = kept_rows(out).set_index("path")
    lines = len(table.read_text(encoding="utf-8").splitlines()) - 1
    # Every row is accounted for: kept, or rejected once with its documented reason, and the report agrees.
    assert summary["rows"] == lines == len(kept) + len(rejected)
    assert found == expected_rejections and len(rejected) == len(expected_rejections)
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["rejected"] == summary["rejected"]
    assert {str(corpus / row[0]) for row in bad_inputs.GOOD_ROWS} <= set(kept.index)

    tally = Tally()
    for case, outcome in ROW_TABLE.items():
        if outcome.reason:
            tally.add(case, False, False, (named[case], outcome.reason) in found, f"rejected as {sorted(found)}")
        elif named[case] in kept.index:
            row = kept.loc[named[case]]
            tally.add(case, True, True, all(row[k] == v for k, v in outcome.kept.items()), f"kept as {dict(row)}")
        else:
            tally.add(case, True, False, False, "not kept")
    for name, outcome in AUDIO_TABLE.items():
        path = named[f"audio: {name}"]
        if outcome.loads:
            ok = path in kept.index and abs(kept.loc[path, "duration"] - outcome.seconds) <= outcome.tolerance + 1e-3
            tally.add(f"row naming {name}", True, path in kept.index, ok, "duration")
        else:
            tally.add(f"row naming {name}", False, False, (path, outcome.category) in found, "rejection")
    tally.check("prepare, rows")


def test_a_label_unseen_at_training_time_is_ignored_not_an_error(corpus, audio):
    # labels.json holds the classes of train.csv; a label outside them encodes to -100 (no loss).
    from data_utils.batching import load_dataset

    labels = LabelSet.fit(pd.DataFrame({"gender": ["female", "male"], "accent": ["seoul", "jeolla"]}))
    manifest = corpus.parent / "unseen.csv"
    clip = audio["rate_8000.wav"]
    manifest.write_text(f"path,text,gender,accent\n{clip},새 라벨,female,우주\n{clip},새 라벨,기타,seoul\n", encoding="utf-8")
    dataset = load_dataset(manifest, labels, JamoCodec(), cache_dir=corpus.parent / "cache")
    assert len(dataset) == 2 and not dataset.skipped
    assert [int(i) for i in dataset["accent_id"]] == [IGNORE, labels.encode("accent", "seoul")]
    assert [int(i) for i in dataset["gender_id"]] == [labels.encode("gender", "female"), IGNORE]


def test_prepare_cli_reads_odd_tables_or_names_the_file_and_reason(corpus, capsys):
    tables = bad_inputs.build_table_cases(corpus)
    tally = Tally()
    for case, outcome in TABLE_TABLE.items():
        options = bad_inputs.TABLE_CASES[case][2]
        out = corpus.parent / f"table-{tables[case].stem}"
        argv = ["--source", "csv", "--input", str(tables[case]), "--out", str(out)]
        argv += ["--delimiter", "tab"] if options.get("delimiter") == "\t" else []
        try:
            status = prepare_main(argv)
        except Exception as error:
            tally.add(case, outcome.loads, None, False, f"{type(error).__name__}: {error}")
            continue
        printed = capsys.readouterr()
        if status == 0:
            texts = set(kept_rows(out)["text"])
            tally.add(case, outcome.loads, True, texts == TWO_TEXTS, f"kept {texts}")
        else:
            message = printed.err.strip()
            ok = message.startswith("error: ") and re.search(outcome.reason, message) is not None
            tally.add(case, outcome.loads, False, ok, f"exit {status}: {message}")
    tally.check("prepare CLI, tables")


# --- training with non-finite losses -------------------------------------------------------------

def expected_skips(epoch_sizes: list[int], every: int, max_steps: int) -> int:
    """Skipped batches when every `every`-th batch of an epoch is non-finite, until `max_steps` steps."""
    steps = skipped = 0
    for size in epoch_sizes:
        for batch in range(1, size + 1):
            if batch % every == 0:
                skipped += 1
            else:
                steps += 1
            if steps == max_steps:
                return skipped
    raise AssertionError(f"{epoch_sizes} batches cannot make {max_steps} steps")


def _train_tiny(corpus: Path, output: Path, max_steps: int, options: dict, faults: dict | None = None) -> list[dict]:
    """Train the tiny preset in-process (`--no-ray`) with `options` (and `faults` injected);
    return its metrics.jsonl records."""
    run_training(corpus / "train.csv", output, "--no-ray", "--max-steps", str(max_steps), timeout=400,
                 config={"eval_every": 1000, "log_every": 1, "batch_seconds": 8.0, "loader_workers": 0,
                         "threads_per_worker": 1, **options}, faults=faults)
    return records(output)


@pytest.mark.slow
def test_training_skips_non_finite_losses_and_keeps_the_weights_finite(tmp_path, synth_corpus):
    output, every, max_steps = tmp_path / "run", 3, 5
    log = _train_tiny(synth_corpus, output, max_steps, {"checkpoint_every": 2, "log_data_order": True},
                      faults={"inject_nonfinite_every": every})
    skips = [r for r in log if r.get("event") == "skipped non-finite loss"]
    finished = [r for r in log if r.get("event") == "finished"]
    epochs = [json.loads(line) for line in (output / "data_order" / "rank0.jsonl").read_text().splitlines()]
    assert finished and finished[-1]["step"] == max_steps
    assert finished[-1]["skipped_batches"] == len(skips) == expected_skips([len(e["batches"]) for e in epochs], every,
                                                                           max_steps) > 0
    # A skipped batch is not a step: each step from 1 to max_steps was logged once, with a finite loss.
    steps = [r for r in log if "loss_ctc" in r]
    assert [r["step"] for r in steps] == list(range(1, max_steps + 1))
    assert all(np.isfinite(r["loss_ctc"]) for r in steps)
    print(f"\ntraining: {len(skips)} non-finite batches skipped and counted, {max_steps} steps taken")

    from safetensors.torch import load_file

    checkpoints = sorted((output / "checkpoints").glob("checkpoint_*"))
    assert [c.name for c in checkpoints] == ["checkpoint_0000004", "checkpoint_0000005"]
    for checkpoint in checkpoints:
        weights = load_file(str(checkpoint / "model.safetensors"))
        bad = [name for name, tensor in weights.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
        assert weights and not bad, f"{checkpoint.name}: non-finite {bad[:5]}"


def test_fp16_grad_scaler_skips_overflowing_steps_and_lowers_its_scale(tmp_path, synth_corpus):
    # A first loss scale of 2^30 overflows fp16 gradients for sure: GradScaler must skip those
    # updates and halve its scale until the gradients fit, and the run must still reach its steps.
    output, max_steps = tmp_path / "run", 3
    log = _train_tiny(synth_corpus, output, max_steps, {"amp": "fp16", "fp16_init_scale": 2.0**30,
                                                            "checkpoint_every": 3})
    skips = [r for r in log if r.get("event") == "skipped non-finite gradients"]
    assert skips, "no overflow at a loss scale of 2^30"
    scales = [r["loss_scale"] for r in skips]
    assert scales == [2.0**29 / 2**i for i in range(len(scales))]  # halved once per overflow
    assert all(r["step"] == 0 for r in skips)  # skipped before the first update, none counted as steps
    steps = [r for r in log if "loss_ctc" in r]
    assert [r["step"] for r in steps] == list(range(1, max_steps + 1))
    assert [r for r in log if r.get("event") == "finished"][-1]["skipped_batches"] == len(skips)

    from distributed.checkpoint import STATE_NAME
    from distributed.state_io import load_state

    state = load_state(output / "checkpoints" / "checkpoint_0000003", STATE_NAME)
    assert state["scaler"]["scale"] <= scales[-1]
    print(f"\nfp16: GradScaler skipped {len(skips)} overflowing updates, scale 2^30 -> {state['scaler']['scale']:.0f}")
