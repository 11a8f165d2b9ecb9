"""The jamo-word n-gram LM and beam search with it."""

import kenlm
import pytest
import torch

from model.codec import JamoCodec, text_to_jamo
from model.decoding import BeamDecoder, greedy_decode
from model.lm import BOS, EOS, UNK, estimate, jamo_sentences, write_arpa

SENTENCES = ["오늘 학교에 가요", "오늘 시장에 가요", "내일 학교에 가요", "내일 집에 있어요", "오늘 집에 있어요"] * 3


@pytest.fixture(scope="module")
def arpa(tmp_path_factory):
    return write_arpa(estimate(jamo_sentences(SENTENCES), order=3), tmp_path_factory.mktemp("lm") / "lm.arpa")


def test_probabilities_sum_to_one_in_every_context(arpa):
    model = kenlm.Model(str(arpa))
    vocabulary = sorted({w for s in jamo_sentences(SENTENCES) for w in s}) + [EOS, UNK]
    for context in ([], [text_to_jamo("오늘")], [text_to_jamo("오늘"), text_to_jamo("학교에")], [text_to_jamo("집에")]):
        state = kenlm.State()
        model.BeginSentenceWrite(state)
        for word in context:
            nxt = kenlm.State()
            model.BaseScore(state, word, nxt)
            state = nxt
        total = sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=0.02), context


def test_seen_sentences_score_higher_than_scrambled(arpa):
    model = kenlm.Model(str(arpa))
    good = " ".join(text_to_jamo("오늘 학교에 가요").split())
    scrambled = " ".join(text_to_jamo("가요 오늘 학교에").split())
    assert model.score(good, bos=True, eos=True) > model.score(scrambled, bos=True, eos=True) + 1
    assert BOS not in good


def leaning_logits(codec: JamoCodec, said: str, heard: str) -> torch.Tensor:
    """Frames that spell `said` but lean, slightly, towards `heard` (of as many tokens)."""
    frames = []
    for a, b in zip(codec.encode(said), codec.encode(heard), strict=True):
        row = torch.full((len(codec),), -8.0)
        row[a], row[b] = (-0.2, -0.1) if a != b else (0.0, 0.0)
        frames += [row, torch.full((len(codec),), -8.0).index_fill_(0, torch.tensor([codec.pad_id]), 0.0)]
    return torch.stack(frames)


def test_lm_resolves_an_acoustically_ambiguous_word(arpa):
    codec = JamoCodec()
    # Frames spell "오늘 학교에 가요", but the last vowel of 학교 is a coin flip between ㅛ and ㅗ.
    logits = leaning_logits(codec, "오늘 학교에 가요", "오늘 학고에 가요")[None]
    lengths = torch.tensor([logits.shape[1]])
    assert greedy_decode(logits, lengths, codec)[0].text == "오늘 학고에 가요"
    assert BeamDecoder(codec, beam_width=16).decode(logits, lengths)[0].text == "오늘 학고에 가요"
    assert BeamDecoder(codec, arpa, beam_width=16, alpha=1.0, beta=0.5).decode(logits, lengths)[0].text == "오늘 학교에 가요"


def test_the_weight_grid_finds_the_lm_weight_that_fixes_the_word(arpa):
    from model.lm_weights import score_grid

    codec = JamoCodec()
    # both words are in the LM, but only 학교에 follows 내일 in its sentences
    logits = leaning_logits(codec, "내일 학교에 가요", "내일 시장에 가요")
    decoder = BeamDecoder(codec, arpa, beam_width=16)
    grid = score_grid(decoder, [logits], ["내일 학교에 가요"], alphas=(0.0, 1.0), betas=(0.0, 0.5))
    assert [(r["alpha"], r["beta"]) for r in grid] == [(0.0, 0.0), (0.0, 0.5), (1.0, 0.0), (1.0, 0.5)]
    assert grid[0]["cer"] > 0 and grid[3]["cer"] == 0  # the weights reach the search without a reload
