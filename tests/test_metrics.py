"""Korean-standard scores: spacing alone never counts in cer_nospace and swer."""

from model.metrics import error_rates, respace, scored_characters, utterance_rates

SPACING_ONLY = [
    ("나는 학교에 간다", "나는학교에 간다"),
    ("오늘 날씨가 좋네요.", "오늘날씨가 좋 네요"),
    ("서울 특별시 종로구", "서울특별시 종로구"),
]


def test_spacing_differences_cost_nothing_in_the_korean_scores():
    refs, hyps = zip(*SPACING_ONLY)
    rates = error_rates(list(refs), list(hyps))
    assert rates["cer_nospace"] == 0 and rates["swer"] == 0
    assert rates["cer"] > 0 and rates["wer"] > 0


def test_a_wrong_syllable_still_costs_its_word():
    rates = utterance_rates("나는 학교에 간다", "나는학꾜에 간다")
    assert rates["cer_nospace"] == 1 / 7
    assert rates["swer"] == 1 / 3


def test_respace_follows_the_reference_through_insertions_and_deletions():
    assert respace("나는 학교에 간다", "나는학교에간다") == "나는 학교에 간다"
    assert respace("나는 학교에 간다", "나는 학교 간다") == "나는 학교 간다"  # 에 deleted
    assert respace("나는 학교에 간다", "나 는 학교에 잘 간다") == "나는 학교에 잘간다"


def test_scored_characters_drop_punctuation_and_compose():
    assert scored_characters("안녕, 하세요!") == "안녕하세요"
    assert scored_characters("\u1100\u1161") == "가"  # NFC composes conjoining jamo
