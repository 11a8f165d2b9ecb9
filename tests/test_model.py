"""The multi-task network: masks, losses, weighting, save/load, export, decoding."""

import json
import logging
import math
from contextlib import contextmanager

import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from model.codec import JamoCodec
from model.config import MultiTaskConfig, encoder_config
from model.decoding import GreedyDecoder, greedy_decode, greedy_ids
from model.losses import TaskWeighting
from model.network import MultiTaskWav2Vec2

LABELS = {"age": ["20s", "40s", "60s"], "gender": ["female", "male"], "accent": ["gyeongsang", "jeolla", "seoul"]}
CODEC = JamoCodec()


def tiny_model(seed=0, **multitask):
    torch.manual_seed(seed)
    return MultiTaskWav2Vec2(encoder_config("tiny", len(CODEC)), MultiTaskConfig(**multitask), LABELS)


def waveforms(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(rng.standard_normal(n).astype(np.float32)) for n in lengths]


def pad(batch):
    longest = max(len(x) for x in batch)
    values = torch.zeros(len(batch), longest)
    mask = torch.zeros(len(batch), longest, dtype=torch.long)
    for i, x in enumerate(batch):
        values[i, : len(x)] = x
        mask[i, : len(x)] = 1
    return values, mask


@pytest.mark.parametrize("pooling, layers", [("attention", "weighted"), ("mean", "last")])
def test_padding_never_changes_a_clip_s_outputs(pooling, layers):
    model = tiny_model(pooling=pooling, layer_weighting=layers).eval()
    clips = waveforms([9000, 16000, 23000])
    values, mask = pad(clips)
    with torch.no_grad():
        batched = model(values, mask)
        for i, clip in enumerate(clips):
            alone = model(clip[None], torch.ones(1, len(clip), dtype=torch.long))
            n = int(alone.frame_lengths[0])
            assert int(batched.frame_lengths[i]) == n
            for head in LABELS:
                p_alone = torch.softmax(alone.head_logits[head], -1)
                p_batch = torch.softmax(batched.head_logits[head][i : i + 1], -1)
                assert torch.allclose(p_alone, p_batch, atol=1e-5), head
            assert torch.allclose(alone.ctc_logits[0, :n], batched.ctc_logits[i, :n], atol=1e-4)


@pytest.mark.parametrize("overrides", [{}, {"conv_bias": False}, {"conv_dim": (16, 24, 32, 8), "conv_kernel": (7, 3, 5, 2),
                                                                    "conv_stride": (3, 2, 3, 1), "num_conv_pos_embeddings": 7}])
def test_channels_last_convolutions_compute_hugging_face_s_functions(overrides):
    """Same outputs and gradients as Hugging Face's layer-norm front end and positional
    convolution, on odd lengths and odd kernels too."""
    from transformers import Wav2Vec2Model
    from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2FeatureEncoder, Wav2Vec2PositionalConvEmbedding

    from model.channels_last import (
        ChannelsLastFeatureEncoder,
        ChannelsLastPositionalConvEmbedding,
        use_channels_last_convs,
    )

    config = encoder_config("tiny", len(CODEC), **overrides)
    for reference_class, ours_class, shape in ((Wav2Vec2FeatureEncoder, ChannelsLastFeatureEncoder, (3, 12345)),
                                               (Wav2Vec2PositionalConvEmbedding, ChannelsLastPositionalConvEmbedding,
                                                (3, 101, config.hidden_size))):
        torch.manual_seed(1)
        reference = reference_class(config)
        ours = reference_class(config)
        ours.load_state_dict(reference.state_dict())
        ours.__class__ = ours_class
        values = torch.randn(*shape)
        expected, actual = reference(values), ours(values)
        assert actual.shape == expected.shape
        assert torch.allclose(actual, expected, atol=1e-5), ours_class.__name__
        (expected ** 2).sum().backward()
        (actual ** 2).sum().backward()
        for (name, a), b in zip(ours.named_parameters(), reference.parameters()):
            assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-4), f"{ours_class.__name__}.{name}"

    model = MultiTaskWav2Vec2(config, MultiTaskConfig(), LABELS)
    assert type(model.asr.wav2vec2.feature_extractor) is ChannelsLastFeatureEncoder
    assert type(model.asr.wav2vec2.encoder.pos_conv_embed) is ChannelsLastPositionalConvEmbedding
    group_norm = Wav2Vec2Model(encoder_config("tiny", len(CODEC), feat_extract_norm="group", **overrides))
    use_channels_last_convs(group_norm)
    assert type(group_norm.feature_extractor) is Wav2Vec2FeatureEncoder  # nothing to gain there
    assert type(group_norm.encoder.pos_conv_embed) is ChannelsLastPositionalConvEmbedding


def test_frame_lengths_follow_the_conv_formula():
    model = tiny_model()
    lengths = torch.tensor([16000, 8000, 400])
    expected = lengths
    for kernel, stride in zip(model.encoder_config.conv_kernel, model.encoder_config.conv_stride):
        expected = torch.div(expected - kernel, stride, rounding_mode="floor") + 1
    assert torch.equal(model.frame_lengths(lengths), expected)


def test_unknown_labels_are_ignored_and_known_heads_still_train():
    model = tiny_model(loss_weighting="fixed").train()
    values, mask = pad(waveforms([16000, 12000]))
    labels = torch.tensor([[5, 30, 2, 7], [9, 31, -100, -100]])
    heads = {"age": torch.tensor([-100, -100]), "gender": torch.tensor([0, -100]), "accent": torch.tensor([2, 1])}
    out = model(values, mask, labels, heads)
    assert set(out.losses) == {"ctc", "gender", "accent"}  # age has no known label in this batch
    out.loss.backward()
    assert model.multitask.heads["gender"][0].weight.grad.abs().sum() > 0
    assert model.multitask.heads["age"][0].weight.grad is None or model.multitask.heads["age"][0].weight.grad.abs().sum() == 0
    # Only rows with a known label count: changing the unknown row's logits changes nothing.
    logits = torch.randn(2, 2, requires_grad=True)
    from model.losses import classification_loss

    loss = classification_loss(logits, torch.tensor([1, -100]))
    assert torch.isclose(loss, torch.nn.functional.cross_entropy(logits[:1], torch.tensor([1])))


def test_uncertainty_weights_are_learned():
    model = tiny_model(loss_weighting="uncertainty").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    values, mask = pad(waveforms([16000, 16000]))
    labels = torch.tensor([[5, 30, 2, 7], [9, 31, 4, 8]])
    heads = {"age": torch.tensor([0, 1]), "gender": torch.tensor([0, 1]), "accent": torch.tensor([2, 1])}
    before = model(values, mask, labels, heads).task_weights
    out = model(values, mask, labels, heads)
    out.loss.backward()
    assert model.multitask.task_weighting.log_vars.grad.abs().min() > 0
    optimizer.step()
    after = model(values, mask, labels, heads).task_weights
    assert all(after[t] != before[t] for t in before)


def test_dwa_weights_follow_loss_ratios():
    weighting = TaskWeighting(["ctc", "gender"], "dwa", {"ctc": 1.0, "gender": 1.0}, temperature=1.0, window=2).train()
    for ctc, gender in [(4.0, 1.0), (4.0, 1.0), (2.0, 1.0), (2.0, 1.0)]:
        _, weights = weighting({"ctc": torch.tensor(ctc), "gender": torch.tensor(gender)})
    weights = weighting.weights()
    # CTC halved while gender stayed flat: the slower task (gender) gets more weight.
    assert weights[1] > weights[0]
    assert torch.isclose(weights.sum(), torch.tensor(2.0))


def test_fixed_weights_and_unknown_strategy():
    weighting = TaskWeighting(["ctc", "age"], "fixed", {"ctc": 1.0, "age": 0.25})
    total, weights = weighting({"ctc": torch.tensor(2.0), "age": torch.tensor(4.0)})
    assert float(total) == 3.0 and weights == {"ctc": 1.0, "age": 0.25}
    with pytest.raises(ValueError, match="unknown loss weighting"):
        TaskWeighting(["ctc"], "magic")


def test_heads_are_optional():
    model = MultiTaskWav2Vec2(encoder_config("tiny", len(CODEC)), MultiTaskConfig(heads=["gender"]), LABELS)
    out = model(*pad(waveforms([8000])))
    assert set(out.head_logits) == {"gender"}
    with pytest.raises(ValueError, match="no classes"):
        MultiTaskWav2Vec2(encoder_config("tiny", len(CODEC)), MultiTaskConfig(heads=["age"]), {"gender": ["f", "m"]})


def test_spec_augment_only_in_training():
    model = tiny_model()
    model.asr.config.mask_time_prob = 0.9
    values, mask = pad(waveforms([16000]))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(values, mask).ctc_logits, model(values, mask).ctc_logits)
    model.train()
    torch.manual_seed(1)
    masked = model(values, mask).ctc_logits
    model.asr.config.mask_time_prob = 0.0
    torch.manual_seed(1)
    assert not torch.allclose(masked, model(values, mask).ctc_logits)


def test_save_and_load_are_exact(tmp_path):
    model = tiny_model(class_weights={"gender": [2.0, 0.5]}).eval()
    model.save_pretrained(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors", "multitask_config.json", "labels.json", "vocab.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl"))]
    loaded = MultiTaskWav2Vec2.from_pretrained(tmp_path)
    values, mask = pad(waveforms([16000, 7000]))
    with torch.no_grad():
        a, b = model(values, mask), loaded(values, mask)
    assert torch.equal(a.ctc_logits, b.ctc_logits)
    for head in LABELS:
        assert torch.equal(a.head_logits[head], b.head_logits[head])
    assert json.loads((tmp_path / "labels.json").read_text()) == LABELS
    assert torch.equal(loaded.multitask.class_weights_gender, torch.tensor([2.0, 0.5]))


def test_loading_refuses_pickles(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(ValueError, match="refused"):
        MultiTaskWav2Vec2.from_pretrained(tmp_path)


def test_fine_tuning_refuses_a_checkpoint_of_pickles_only(tmp_path):
    import transformers

    transformers.Wav2Vec2ForCTC(encoder_config("tiny", 32)).save_pretrained(str(tmp_path))
    state = safetensors.torch.load_file(str(tmp_path / "model.safetensors"))
    (tmp_path / "model.safetensors").unlink()
    torch.save(state, tmp_path / "pytorch_model.bin")  # a real pickle that Transformers would load
    with pytest.raises(ValueError, match="pytorch_model.bin.*refused"):
        MultiTaskWav2Vec2.from_encoder(tmp_path, MultiTaskConfig(), LABELS, CODEC)


@pytest.mark.parametrize("kind", ["Wav2Vec2Model", "Wav2Vec2ForPreTraining", "Wav2Vec2ForCTC"])
def test_encoder_initialised_from_any_wav2vec2_checkpoint(tmp_path, kind):
    import transformers

    config = encoder_config("tiny", 32)  # a different vocabulary: the CTC head must start fresh
    torch.manual_seed(3)
    source = getattr(transformers, kind)(config)
    source.save_pretrained(str(tmp_path))
    model, report = MultiTaskWav2Vec2.from_encoder(tmp_path, MultiTaskConfig(), LABELS, CODEC)
    encoder = source.wav2vec2 if hasattr(source, "wav2vec2") else source
    reference = encoder.state_dict()["encoder.layers.0.attention.q_proj.weight"]
    assert torch.equal(model.asr.wav2vec2.encoder.layers[0].attention.q_proj.weight, reference)
    assert model.asr.lm_head.out_features == len(CODEC)
    assert "warning" not in report  # every encoder weight was found
    if kind == "Wav2Vec2ForCTC":
        assert any("lm_head" in k for k in report["mismatched_keys"])
    else:
        assert any("lm_head" in k for k in report["missing_keys"])


@contextmanager
def logged_by(name: str):
    """The records a logger and its children emit inside the block, whatever handlers they had."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def test_fine_tuning_a_toolkit_model_keeps_what_still_means_the_same(tmp_path):
    source = tiny_model(seed=4)
    source.save_pretrained(tmp_path, CODEC)
    # Same classes for age and accent; gender's two classes in the other order: same shape, other meaning.
    labels = {**LABELS, "gender": ["male", "female"]}
    with logged_by("transformers") as records:
        model, report = MultiTaskWav2Vec2.from_encoder(tmp_path, MultiTaskConfig(), labels, CODEC)
    # Transformers' own table would call the multi-task weights "unexpected"; the report says what
    # was read. Nor does hiding the table bring out other warnings ("layers were not sharded").
    assert not [r.getMessage()[:80] for r in records if r.levelno >= logging.WARNING]
    assert report["ctc_head"] == "loaded" and torch.equal(model.asr.lm_head.weight, source.asr.lm_head.weight)
    assert report["heads_loaded"] == ["accent", "age"] and report["heads_fresh"] == ["gender"]
    assert report["unexpected_keys"] == []
    for name in ("age", "accent"):
        assert torch.equal(model.multitask.heads[name][0].weight, source.multitask.heads[name][0].weight)
    assert not torch.equal(model.multitask.heads["gender"][0].weight, source.multitask.heads["gender"][0].weight)
    assert torch.equal(model.multitask.shared[1].weight, source.multitask.shared[1].weight)

    # A vocabulary of the same size in another order: the CTC head's rows would mean other jamo.
    swapped = list(CODEC.vocab)
    swapped[-1], swapped[-2] = swapped[-2], swapped[-1]
    model, report = MultiTaskWav2Vec2.from_encoder(tmp_path, MultiTaskConfig(), LABELS, JamoCodec(swapped))
    assert report["ctc_head"] == "fresh"
    assert not torch.equal(model.asr.lm_head.weight, source.asr.lm_head.weight)
    assert report["heads_loaded"] == ["accent", "age", "gender"]


def test_greedy_decoding_of_hand_made_logits():
    vocab = len(CODEC)
    ga, a, n = CODEC.encode("가")[0], CODEC.encode("가")[1], CODEC.encode("난")[2]
    blank, space = CODEC.pad_id, CODEC.word_delimiter_id
    # frames: ㄱ ㄱ blank ㅏ ㅏ | ㄱ ㅏ ㄴ blank ㄴ  (+ two padded frames saying ㄱ)
    path = [ga, ga, blank, a, a, space, ga, a, n, blank, n, ga, ga]
    logits = torch.full((2, len(path), vocab), -5.0)
    for t, token in enumerate(path):
        logits[0, t, token] = 5.0
        logits[1, t, blank] = 5.0
    lengths = torch.tensor([len(path) - 2, 4])
    assert greedy_ids(logits, lengths, blank)[1] == []
    transcripts = greedy_decode(logits, lengths, CODEC, syllables=False)
    assert transcripts[0].text == "가 간ㄴ"
    assert transcripts[0].jamo == "\u1100\u1161 \u1100\u1161\u11ab\u11ab"
    assert transcripts[1].text == ""
    assert greedy_decode(logits, lengths, CODEC)[0].text == "가 간"  # kept to whole syllables (tests/test_syllable_decoding.py)


def test_exported_ctc_runs_in_hugging_face_pipeline(tmp_path):
    from transformers import pipeline

    from model.export import export_ctc
    from model.predict import Predictor

    model = tiny_model()
    model.save_pretrained(tmp_path / "model")
    export_ctc(tmp_path / "model", tmp_path / "ctc")
    audio = waveforms([16000], seed=5)[0].numpy() * 0.1
    # the pipeline decodes the plain argmax path, not one kept to whole syllables
    plain_path = GreedyDecoder(CODEC, syllables=False)
    ours = Predictor.from_pretrained(tmp_path / "model", decoder=plain_path).predict_arrays([audio])[0]
    # with the tokenizer the directory ships: syllables, as the toolkit writes them
    asr = pipeline("automatic-speech-recognition", model=str(tmp_path / "ctc"), trust_remote_code=True)
    assert " ".join(asr(audio)["text"].split()) == ours.text
    # without remote code: the plain tokenizer, which gives the jamo
    plain = pipeline("automatic-speech-recognition", model=str(tmp_path / "ctc"))
    assert " ".join(plain(audio)["text"].split()) == ours.jamo
    card = (tmp_path / "ctc" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlanguage:\n- ko\n") and "trust_remote_code=True" in card


def test_an_export_with_an_lm_decodes_with_it_in_the_pipeline(tmp_path):
    from transformers import pipeline

    from model.decoding import BeamDecoder
    from model.export import export_ctc
    from model.lm import estimate, jamo_sentences, write_arpa
    from model.predict import Predictor
    from model.tokenization_korean_jamo import compose

    arpa = write_arpa(estimate(jamo_sentences(["가나 다라", "나다 가라 마"]), order=2), tmp_path / "lm.arpa")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "summary.json").write_text(json.dumps({"n": 7, "cer_nospace": 0.1234, "swer": 0.2, "wer": 0.3}))
    model = tiny_model()
    model.save_pretrained(tmp_path / "model")
    export_ctc(tmp_path / "model", tmp_path / "ctc", lm=arpa, evaluations=[tmp_path / "report"])
    asr = pipeline("automatic-speech-recognition", model=str(tmp_path / "ctc"), trust_remote_code=True)
    assert asr.type == "ctc_with_lm"
    audio = waveforms([16000], seed=6)[0].numpy() * 0.1
    predictor = Predictor.from_pretrained(tmp_path / "model")
    predictor.decoder = BeamDecoder(predictor.codec, arpa)
    assert compose(" ".join(asr(audio)["text"].split())) == predictor.predict_arrays([audio])[0].text
    assert "| report | 7 | 0.123 | 0.200 | 0.300 |" in (tmp_path / "ctc" / "README.md").read_text(encoding="utf-8")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CODEC.vocab[3:] + [" ", "a"]), max_size=12))
def test_the_shipped_tokenizer_composes_as_the_codec_does(tokens):
    from model.codec import jamo_to_text
    from model.tokenization_korean_jamo import compose

    assert compose("".join(tokens)) == jamo_to_text("".join(tokens))


def test_a_float16_export_is_half_the_size_and_loads_as_float32(tmp_path):
    from safetensors import safe_open

    from model.export import export_float16

    model = tiny_model().eval()
    model.save_pretrained(tmp_path / "model")
    export_float16(tmp_path / "model", tmp_path / "half")
    with safe_open(str(tmp_path / "half" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} - {torch.int64} == {torch.float16}  # int: counters
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(tmp_path / "half") < 0.55 * size(tmp_path / "model")
    half = MultiTaskWav2Vec2.from_pretrained(tmp_path / "half")
    assert next(half.parameters()).dtype == torch.float32
    audio = waveforms([16000], seed=5)[0][None] * 0.1
    with torch.no_grad():
        assert torch.allclose(model(audio).ctc_logits, half(audio).ctc_logits, atol=0.05)


def test_uncertainty_weights_start_at_the_configured_ones_and_stay_bounded():
    from model.losses import TaskWeighting

    weighting = TaskWeighting(["ctc", "gender"], "uncertainty", {"ctc": 1.0, "gender": 0.5})
    assert weighting.weights().tolist() == [1.0, 0.5]
    optimizer = torch.optim.Adam(weighting.parameters(), lr=0.05)
    losses = {"ctc": torch.tensor(0.5), "gender": torch.tensor(0.001)}  # an easy head, as a head gets
    for _ in range(500):
        total, weights = weighting(losses)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    bound = math.exp(TaskWeighting.LOG_VAR_BOUND)
    assert weights["gender"] <= 0.5 * bound * 1.0001 and weights["ctc"] <= 1.0 * bound * 1.0001
    assert weights["gender"] > 0.5  # it did learn to weigh the easy task up, within the bound
