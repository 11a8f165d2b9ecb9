import pytest

from data_utils.text import TextNormalizer, normalize, read_sino_korean


@pytest.mark.parametrize("number, reading", [
    ("2024", "이천이십사"), ("3.5", "삼 점 오"), ("10000", "만"), ("0", "영"), ("15", "십오"),
    ("110000", "십일만"), ("1,500", "천오백"), ("100000000", "일억"), ("3.05", "삼 점 영오"), ("1001", "천일"),
])
def test_sino_korean_numbers(number, reading):
    assert read_sino_korean(number) == reading


def test_numbers_read_in_sentences():
    assert normalize("2024년 3월에 3.5킬로를 걸었다") == "이천이십사년 삼월에 삼 점 오킬로를 걸었다"
    assert normalize("할인율은 30%입니다") == "할인율은 삼십 퍼센트 입니다"


def test_latin_letters_read_keep_or_drop():
    assert normalize("KBS 뉴스") == "케이비에스 뉴스"
    assert normalize("KBS 뉴스", latin_digits="keep") == "kbs 뉴스"
    assert normalize("KBS 뉴스 9시", latin_digits="drop") is None
    assert normalize("오늘 뉴스", latin_digits="drop") == "오늘 뉴스"
    assert normalize("버전 3.5, 좋아요.", latin_digits="keep") == "버전 3.5 좋아요"


def test_bom_crlf_and_whitespace():
    assert normalize("\ufeff안녕하세요.\r\n반갑습니다!\r\n") == "안녕하세요 반갑습니다"
    assert normalize("  여러   공백\t탭  ") == "여러 공백 탭"


def test_unicode_normalisation():
    decomposed = "\u1112\u1161\u11ab\u1100\u116e\u11a8"  # 한국 as conjoining jamo
    assert normalize(decomposed, unicode_form="NFC") == "한국"
    assert normalize("ＡＢＣ 전각", unicode_form="NFKC", latin_digits="keep") == "abc 전각"


def test_punctuation_removed():
    assert normalize("\"정말요?\" 그녀가 물었다… (웃음)") == "정말요 그녀가 물었다 웃음"


def test_kspon_noise_tags():
    assert normalize("b/ 그래서 n/ 갔어요 l/") == "그래서 갔어요"
    assert normalize("o/ u/ 네") == "네"


def test_kspon_dual_transcription_choice():
    line = "(3시)/(세 시)에 만나요"
    assert normalize(line) == "세 시에 만나요"
    assert normalize(line, kspon_dual="spelling") == "삼시에 만나요"


def test_kspon_fillers_repeats_and_unclear():
    assert normalize("어/ 그게 음/ 맞아요") == "어 그게 음 맞아요"
    assert normalize("어/ 그게 음/ 맞아요", kspon_fillers="drop") == "그게 맞아요"
    assert normalize("그+ 그 사람이 몰*라요") == "그 그 사람이 몰라요"


def test_real_kspon_line():
    line = "b/ 아/ 몰라 (70%)/(칠십 퍼센트) 정도+ 정도는 했어 n/\r\n"
    assert normalize(line) == "아 몰라 칠십 퍼센트 정도 정도는 했어"


def test_only_punctuation_or_empty():
    assert normalize("...!?") == ""
    assert normalize("") == ""
    assert TextNormalizer().normalize(None) is None
