"""model.interpolate: a fine-tuned encoder moved back toward its pretrained weights (WiSE-FT)."""

import json

import pytest
import torch

from model import interpolate
from model.config import MultiTaskConfig
from model.network import MultiTaskWav2Vec2
from tests.test_whisper import LABELS, tiny_whisper, tiny_whisper_init, write_ct2


def fine_tuned_from(init, out):
    """A model started from `init` whose every weight has moved (as fine-tuning moves them)."""
    model, _ = MultiTaskWav2Vec2.from_encoder(init, MultiTaskConfig(), LABELS)
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.05)
    model.save_pretrained(out)
    return model


def interpolated(tmp_path, alpha: str):
    """A tiny whisper model (two blocks), fine-tuned, then interpolated at `alpha` into
    tmp_path/out: (its init, the tuned model, the output model, and the encoder parameters of
    the output, the pretrained and the tuned model)."""
    init = tiny_whisper_init(tmp_path)
    tuned = fine_tuned_from(init, tmp_path / "tuned")
    base, _ = MultiTaskWav2Vec2.from_encoder(init, MultiTaskConfig(), LABELS)
    interpolate.main(["--model", str(tmp_path / "tuned"), "--base", str(init), "--out", str(tmp_path / "out"),
                      "--alpha", alpha])
    out = MultiTaskWav2Vec2.from_pretrained(tmp_path / "out")
    return (init, tuned, out, *(dict(m.encoder.named_parameters()) for m in (out, base, tuned)))


def test_the_encoder_moves_alpha_of_the_way_and_the_heads_stay_tuned(tmp_path):
    _, tuned, out, ours, theirs, tuned_encoder = interpolated(tmp_path, "0.25")
    moved = [k for k in ours if not torch.equal(theirs[k], tuned_encoder[k])]
    assert len(moved) > 10
    for name in moved:
        assert torch.allclose(ours[name], 0.25 * tuned_encoder[name] + 0.75 * theirs[name], atol=1e-6), name
    assert torch.equal(out.asr.lm_head.weight, tuned.asr.lm_head.weight)
    for key, value in tuned.multitask.state_dict().items():
        assert torch.equal(out.multitask.state_dict()[key], value), key
    assert json.loads((tmp_path / "out" / interpolate.RECORD_NAME).read_text())["alpha"] == "0.25"


def test_a_layer_wise_alpha_moves_the_front_end_and_the_lower_blocks_alone(tmp_path):
    init, _, out, ours, theirs, tuned_encoder = interpolated(tmp_path, "0.25@1")
    expected_share = {0: 0.25, 1: 0.25, 2: 1.0, 3: 1.0}  # front end, block 1, block 2, final norm
    depths = out.encoder_depths()
    seen = set()
    for name in ours:
        if torch.equal(theirs[name], tuned_encoder[name]):
            continue
        share = expected_share[depths[name]]
        seen.add(depths[name])
        assert torch.allclose(ours[name], share * tuned_encoder[name] + (1 - share) * theirs[name], atol=1e-6), name
    assert seen == {0, 1, 2, 3}
    record = json.loads((tmp_path / "out" / interpolate.RECORD_NAME).read_text())
    assert record["alpha"] == "0.25@1" and record["alpha_by_depth"] == [0.25, 0.25, 1.0, 1.0]
    with pytest.raises(ValueError, match="the encoder has 2 blocks"):
        interpolate.main(["--model", str(tmp_path / "tuned"), "--base", str(init), "--out", str(tmp_path / "o"),
                          "--alpha", "0.5@3"])
    for bad in ("1.5", "half", "0.5@"):
        with pytest.raises(SystemExit):
            interpolate.main(["--model", str(tmp_path / "tuned"), "--base", str(init), "--out", str(tmp_path / "o"),
                              "--alpha", bad])


def test_the_alpha_with_the_lowest_mean_validation_cer_is_written(tmp_path, synth_corpus, monkeypatch):
    init = tiny_whisper_init(tmp_path)
    tuned = fine_tuned_from(init, tmp_path / "tuned")
    valid = str(synth_corpus / "heldout.csv")
    # the real scoring runs once (a tiny model reads nonsense, but it reads)
    rates = interpolate.validation_cer(tuned, interpolate.JamoCodec(), interpolate.load_validation([valid]))
    assert len(rates) == 1 and rates[0] >= 0
    scores = {1.0: [0.30, 0.50], 0.8: [0.28, 0.40], 0.5: [0.20, 0.60]}  # means 0.40, 0.34, 0.40
    seen = []

    def scored(model, codec, clips):
        moved = float(model.encoder.encoder.layer_norm.weight[0].detach() - base_norm) / float(step)
        alpha = min(scores, key=lambda a: abs(a - moved))  # which candidate the encoder now holds
        assert abs(alpha - moved) < 1e-4
        seen.append(alpha)
        return scores[alpha]

    base, _ = MultiTaskWav2Vec2.from_encoder(init, MultiTaskConfig(), LABELS)
    base_norm = base.encoder.encoder.layer_norm.weight[0].detach()
    step = tuned.encoder.encoder.layer_norm.weight[0].detach() - base_norm
    monkeypatch.setattr(interpolate, "validation_cer", scored)
    interpolate.main(["--model", str(tmp_path / "tuned"), "--base", str(init), "--out", str(tmp_path / "out"),
                      "--alphas", "1", "0.8", "0.5", "--valid", valid, valid])
    record = json.loads((tmp_path / "out" / interpolate.RECORD_NAME).read_text())
    assert seen == [1.0, 0.8, 0.5] and record["alpha"] == "0.8"
    assert [s["mean"] for s in record["scores"]] == [0.4, 0.34, 0.4]
    out = MultiTaskWav2Vec2.from_pretrained(tmp_path / "out")
    assert torch.allclose(out.encoder.encoder.layer_norm.weight[0], base_norm + 0.8 * step, atol=1e-6)


def test_a_base_of_another_shape_is_refused_by_name(tmp_path):
    init = tiny_whisper_init(tmp_path)
    fine_tuned_from(init, tmp_path / "tuned")
    other = tmp_path / "other"
    (other / "ct2").mkdir(parents=True)
    wide = tiny_whisper()
    wide.config.encoder_layers = 1  # one block fewer: its weights are missing
    del wide.layers[1]
    write_ct2(other / "ct2" / "model.bin", wide)
    from model.whisper_init import write_init

    other_init = write_init(other / "init", ct2_dir=other / "ct2", kind="whisper")
    with pytest.raises(ValueError, match=r"init: not the encoder this model was fine-tuned from \(\d+ weights missing"):
        interpolate.main(["--model", str(tmp_path / "tuned"), "--base", str(other_init), "--out", str(tmp_path / "o"),
                          "--alpha", "0.5"])
    with pytest.raises(SystemExit):
        interpolate.main(["--model", str(tmp_path / "tuned"), "--base", str(init), "--out", str(tmp_path / "o"),
                          "--alphas", "1", "0.5"])  # candidates with nothing to choose them by


@pytest.mark.parametrize("stable", [True, False])
def test_a_wav2vec2_encoders_parameters_have_the_depths_a_layer_wise_alpha_reads(stable):
    from model.codec import JamoCodec
    from model.config import encoder_config

    config = encoder_config("tiny", len(JamoCodec()), do_stable_layer_norm=stable)
    model = MultiTaskWav2Vec2(config, MultiTaskConfig(), LABELS)
    depths = model.encoder_depths()
    front = ("feature_extractor.", "feature_projection.", "encoder.pos_conv_embed.", "masked_spec_embed")
    assert all(depths[n] == 0 for n in depths if n.startswith(front))
    assert {depths[n] for n in depths if n.startswith("encoder.layers.0.")} == {1}
    assert {depths[n] for n in depths if n.startswith("encoder.layers.1.")} == {2}
    assert {depths[n] for n in depths if n.startswith("encoder.layer_norm.")} == ({3} if stable else {0})
