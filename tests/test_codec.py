import jamo
import pytest

from model.codec import (
    LEADS,
    TAILS,
    VOCAB,
    VOWELS,
    JamoCodec,
    build_processor,
    jamo_for_display,
    jamo_to_text,
    text_to_jamo,
)

ALL_SYLLABLES = "".join(chr(c) for c in range(0xAC00, 0xD7A4))


def test_every_hangul_syllable_round_trips():
    assert len(ALL_SYLLABLES) == 11172
    decomposed = text_to_jamo(ALL_SYLLABLES)
    assert all(c in set(LEADS + VOWELS + TAILS) for c in decomposed)
    assert jamo_to_text(decomposed) == ALL_SYLLABLES
    codec = JamoCodec()
    ids = codec.encode(ALL_SYLLABLES)
    assert codec.unk_id not in ids
    assert codec.decode(ids) == ALL_SYLLABLES


def test_initial_and_final_consonants_stay_distinct():
    # 각: ㄱ as initial (U+1100) and as final (U+11A8) are different symbols.
    assert text_to_jamo("각") == "\u1100\u1161\u11a8"
    # 가가 vs 각아: same compatibility letters, different jamo, so recomposition is unambiguous.
    assert jamo_to_text(text_to_jamo("가가")) == "가가"
    assert jamo_to_text(text_to_jamo("각아")) == "각아"


def test_mixed_text_keeps_non_hangul_characters():
    text = "KBS 뉴스 9시, 오늘은 맑음!"
    assert jamo_to_text(text_to_jamo(text)) == text
    codec = JamoCodec()
    # Latin letters, digits and punctuation are outside the vocabulary: they become <unk>.
    ids = codec.encode("가 A 나")
    assert ids.count(codec.unk_id) == 1
    assert codec.decode(ids) == "가 나"


def test_compatibility_jamo_in_written_text():
    assert jamo_to_text(text_to_jamo("ㅋㅋ ㅠㅠ")) == "ㅋㅋ ㅠㅠ"


@pytest.mark.parametrize("sequence, expected", [
    ("\u1161\u1100", "ㅏㄱ"),                      # a medial with no initial, then a lone initial
    ("\u1111\u1161\u11ab\u11af\u11af", "판ㄹㄹ"),   # two finals in a row after a syllable
    ("\u11a8", "ㄱ"),                             # a final alone
    ("\u1100\u1100\u1161", "ㄱ가"),               # a doubled initial
    ("\u1105\u1167|", "려|"),                     # foreign symbols pass through
])
def test_ill_formed_jamo_never_crash_and_stay_visible(sequence, expected):
    assert jamo_to_text(sequence) == expected


def test_ill_formed_output_keeps_every_jamo():
    codec = JamoCodec()
    # Every jamo id in the vocabulary, in an order that forms no syllables at all.
    ids = list(range(3, len(VOCAB)))[::-1]
    text = codec.decode(ids)
    visible = jamo.j2hcj(jamo.h2j(text))  # back to compatibility letters, one per jamo
    assert len(visible) == len(ids)


def test_display_jamo_are_compatibility_jamo_one_per_conjoining_jamo():
    sequence = text_to_jamo("닭 값, ok")
    shown = jamo_for_display(sequence)
    assert shown == "ㄷㅏㄺ ㄱㅏㅄ, ok"
    assert len(shown) == len(sequence)


def test_vocabulary_loads_in_hugging_face_processor(tmp_path):
    from transformers import Wav2Vec2Processor

    codec = JamoCodec()
    build_processor(codec, tmp_path)
    processor = Wav2Vec2Processor.from_pretrained(str(tmp_path))
    assert len(processor.tokenizer) == len(VOCAB)
    ids = codec.encode("안녕하세요 반갑습니다")
    assert processor.tokenizer.decode(ids, group_tokens=False) == codec.decode_ids(ids)
    assert processor.tokenizer(codec.decode_ids(ids)).input_ids == ids
    assert JamoCodec.from_vocab_file(tmp_path / "vocab.json").vocab == codec.vocab
