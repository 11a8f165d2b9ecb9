"""Best path kept to whole syllables (model.decoding.syllable_paths)."""

import itertools

import numpy as np
import pytest
import torch

from model.codec import JamoCodec, text_to_jamo
from model.decoding import collapse, greedy_decode, greedy_ids, is_well_formed, syllable_paths, token_categories

CODEC = JamoCodec()
CATEGORIES = token_categories(CODEC)


def frame_logits(frames: list[dict[str, float]], length: int | None = None) -> torch.Tensor:
    """Log-probabilities, one row per frame from {jamo or '' for blank: probability}; the rest
    of each row's mass is spread over the other tokens. Rows past `frames` are padding saying ㄱ."""
    rows = np.full((length or len(frames), len(CODEC)), 1e-6)
    for t, probs in enumerate(frames):
        for token, p in probs.items():
            rows[t, CODEC.token_to_id[token] if token else CODEC.pad_id] = p
    rows[len(frames):, CODEC.token_to_id[text_to_jamo("가")[0]]] = 1.0
    return torch.log(torch.tensor(rows / rows.sum(1, keepdims=True), dtype=torch.float32))


G, EU, R, EO, M, IEUNG, YO = text_to_jamo("그럼요")
# Best path: ㄱ ㄱ ㄹ ㅓ ㅁ ㅇ ㅛ = "ㄱ럼요", a stray initial; ㅡ is a close second on ㄱ's second frame.
STRAY = [{G: 0.9}, {G: 0.55, EU: 0.4}, {R: 0.9}, {EO: 0.9}, {M: 0.9}, {IEUNG: 0.9}, {YO: 0.9}]


def test_a_stray_initial_becomes_the_likelier_syllable():
    logits = frame_logits(STRAY)[None]
    lengths = torch.tensor([len(STRAY)])
    assert greedy_decode(logits, lengths, CODEC, syllables=False)[0].text == "ㄱ럼요"
    transcript = greedy_decode(logits, lengths, CODEC, words=True)[0]
    assert transcript.text == "그럼요"
    word = transcript.words[0]
    assert (word.text, word.start, word.end) == ("그럼요", 0, 7)
    assert [(s.text, s.start, s.end) for s in word.syllables] == [("그", 0, 2), ("럼", 2, 5), ("요", 5, 7)]
    # ㅡ's frame counts at ㅡ's posterior, not at the argmax's
    probs = logits[0].exp()
    assert word.syllables[0].confidence == pytest.approx(float(probs[0, CODEC.token_to_id[G]] + probs[1, CODEC.token_to_id[EU]]) / 2)


def test_well_formed_best_paths_and_padding_are_left_as_they_are():
    a, n = text_to_jamo("안")[1], text_to_jamo("안")[2]
    ga = text_to_jamo("가")[0]
    # | 가 | 안 || 간 with repeats and blanks (delimiters where they say nothing: a confident one must
    # not make the search invent a syllable for it to follow), then padded frames saying ㄱ
    frames = [{"|": 0.99}, {"": 0.9}, {ga: 0.9}, {ga: 0.9}, {"": 0.9}, {a: 0.9}, {"|": 0.9}, {IEUNG: 0.9}, {a: 0.9}, {n: 0.9}, {"|": 0.9},
              {"": 0.9}, {"|": 0.9}, {ga: 0.9}, {a: 0.9}, {n: 0.9}, {n: 0.9}]
    logits = torch.stack([frame_logits(frames, 20), frame_logits(STRAY, 20)])
    lengths = torch.tensor([len(frames), len(STRAY)])
    best = greedy_ids(logits, lengths, CODEC.pad_id)
    paths = syllable_paths(logits.numpy(), lengths.numpy(), CODEC)
    assert [len(p) for p in paths] == [len(frames), len(STRAY)]
    assert collapse(paths[0], CODEC.pad_id) == best[0]
    assert [t.text for t in greedy_decode(logits, lengths, CODEC)] == ["가 안 간", "그럼요"]


def test_the_path_is_the_most_probable_well_formed_one():
    """Against brute force over every labelling of a few frames by a few tokens."""
    ga, a, n = text_to_jamo("간")
    tokens = ["", ga, a, n, "|"]
    ids = [CODEC.token_to_id[t] if t else CODEC.pad_id for t in tokens]
    rng = np.random.default_rng(0)
    for _ in range(20):
        frames = [dict(zip(tokens, rng.dirichlet(np.ones(len(tokens))))) for _ in range(6)]
        log_probs = frame_logits(frames).numpy()
        best_score = max(log_probs[np.arange(6), list(path)].sum()
                         for path in itertools.product(ids, repeat=6)
                         if is_well_formed(collapse(np.array(path), CODEC.pad_id), CATEGORIES))
        path = syllable_paths(log_probs[None], [6], CODEC)[0]
        assert is_well_formed(collapse(path, CODEC.pad_id), CATEGORIES)
        assert abs(log_probs[np.arange(6), path].sum() - best_score) < 1e-4


def test_any_posteriors_decode_to_whole_syllables():
    rng = np.random.default_rng(1)
    logits = torch.tensor(rng.normal(0, 3, (3, 50, len(CODEC))), dtype=torch.float32)
    lengths = torch.tensor([50, 31, 1])
    for transcript in greedy_decode(logits, lengths, CODEC):
        assert is_well_formed(CODEC.encode(transcript.text), CATEGORIES), transcript.jamo


def test_beam_search_keeps_to_whole_syllables_too():
    pytest.importorskip("pyctcdecode")
    from model.decoding import BeamDecoder

    logits, lengths = frame_logits(STRAY)[None], torch.tensor([len(STRAY)])
    assert BeamDecoder(CODEC, syllables=False).decode(logits, lengths)[0].text == "ㄱ럼요"
    transcript = BeamDecoder(CODEC).decode(logits, lengths, words=True)[0]
    assert transcript.text == "그럼요" and [w.text for w in transcript.words] == ["그럼요"]
