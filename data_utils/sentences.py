"""A generator of varied Korean sentences for the synthetic corpus.

Natural sentences come from templates over a vocabulary of nouns, places, times, verbs and
adjectives, with particles chosen by the final consonant, conjugated endings, Sino-Korean
and native numerals with their counters. Pseudo-words are drawn from an approximation of
the Korean syllable distribution so that every initial, medial and final appears in many
contexts. Everything is written here: no text corpus from another package.
"""

from __future__ import annotations

import random
from collections import Counter

from data_utils.text import read_sino_korean


def has_final(word: str) -> bool:
    last = word[-1]
    return "\uac00" <= last <= "\ud7a3" and (ord(last) - 0xAC00) % 28 != 0


def particle(word: str, with_final: str, without_final: str) -> str:
    return word + (with_final if has_final(word) else without_final)


_TAIL_JAMO = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"


def final_of(syllable: str) -> str:
    index = (ord(syllable) - 0xAC00) % 28
    return _TAIL_JAMO[index - 1] if index else ""


def with_final(syllable: str, tail: str) -> str:
    """Replace the final consonant of a syllable: 가 + ㅆ -> 갔, 들 + "" -> 드."""
    base = ord(syllable) - (ord(syllable) - 0xAC00) % 28
    return chr(base + (_TAIL_JAMO.index(tail) + 1 if tail else 0))


# --- vocabulary -------------------------------------------------------------------------------

PEOPLE = ("저 우리 친구 선생님 어머니 아버지 할머니 할아버지 동생 언니 오빠 누나 형 아이들 학생 의사 "
          "간호사 요리사 기자 경찰관 사장님 손님 이웃 아저씨 아주머니 남편 아내 딸 아들 동료 팀장님 교수님 "
          "운전기사 가수 배우 작가 농부 어부 판사 변호사").split()
THINGS = ("밥 빵 김치 사과 우유 커피 물 책 신문 편지 사진 영화 음악 노래 옷 신발 모자 가방 우산 시계 "
          "전화 컴퓨터 자동차 자전거 꽃 나무 고양이 강아지 새 물고기 과일 채소 국수 떡볶이 비빔밥 불고기 "
          "라면 김밥 과자 케이크 숙제 시험 회의 보고서 계획 약속 선물 표 지도 열쇠 창문 문 의자 책상 침대 "
          "냉장고 텔레비전 라디오 휴대폰 안경 반지 목걸이 지갑 돈 카드 바지 치마 양말 장갑 이불 베개 거울 "
          "칫솔 비누 수건 그릇 숟가락 젓가락 냄비 달걀 고기 생선 두부 된장 고추장 소금 설탕 간장").split()
PLACES = ("집 학교 회사 시장 병원 은행 공원 도서관 식당 카페 백화점 우체국 약국 극장 박물관 미술관 "
          "공항 기차역 버스 정류장 바다 산 강 호수 섬 시골 도시 서울 부산 대구 인천 광주 대전 울산 제주도 "
          "강원도 경주 전주 춘천 교실 사무실 부엌 거실 방 화장실 마당 운동장 놀이터 교회 절 호텔 "
          "편의점 수영장 체육관 동물원 해변 터미널 주차장 지하철역 대학교 연구소 공장 농장 항구").split()
TIMES = [t.replace("_", " ") for t in ("오늘 내일 어제 모레 지금 아침에 점심에 저녁에 밤에 주말에 월요일에 화요일에 수요일에 목요일에 "
         "금요일에 토요일에 일요일에 봄에 여름에 가을에 겨울에 방학에 새벽에 오후에 오전에 요즘 가끔 "
         "자주 항상 매일 다음_주에 지난주에 올해 작년에 내년에").split()]
# (stem, polite present): the polite form gives the past (+ㅆ) and the stem the other endings.
ACTIONS = [
    ("먹", "먹어요"), ("마시", "마셔요"), ("읽", "읽어요"), ("보", "봐요"), ("사", "사요"), ("만들", "만들어요"),
    ("찾", "찾아요"), ("좋아하", "좋아해요"), ("기다리", "기다려요"), ("빌리", "빌려요"), ("팔", "팔아요"),
    ("씻", "씻어요"), ("닦", "닦아요"), ("고치", "고쳐요"), ("그리", "그려요"), ("받", "받아요"), ("보내", "보내요"),
    ("가르치", "가르쳐요"), ("배우", "배워요"), ("준비하", "준비해요"), ("정리하", "정리해요"), ("주문하", "주문해요"),
    ("열", "열어요"), ("닫", "닫아요"), ("잃어버리", "잃어버려요"), ("입", "입어요"), ("신", "신어요"), ("쓰", "써요"),
    ("치우", "치워요"), ("나누", "나눠요"), ("잡", "잡아요"), ("던지", "던져요"), ("심", "심어요"), ("키우", "키워요"),
]
MOVES = [("가", "가요"), ("오", "와요"), ("다니", "다녀요"), ("돌아가", "돌아가요"), ("도착하", "도착해요"),
         ("출발하", "출발해요"), ("놀러 가", "놀러 가요"), ("이사하", "이사해요"), ("산책하", "산책해요")]
STATES = [("좋", "좋아요"), ("싫", "싫어요"), ("크", "커요"), ("작", "작아요"), ("많", "많아요"), ("적", "적어요"),
          ("비싸", "비싸요"), ("싸", "싸요"), ("맛있", "맛있어요"), ("재미있", "재미있어요"), ("깨끗하", "깨끗해요"),
          ("조용하", "조용해요"), ("시끄럽", "시끄러워요"), ("따뜻하", "따뜻해요"), ("시원하", "시원해요"),
          ("예쁘", "예뻐요"), ("멀", "멀어요"), ("가깝", "가까워요"), ("바쁘", "바빠요"), ("편하", "편해요"),
          ("어렵", "어려워요"), ("쉽", "쉬워요"), ("무겁", "무거워요"), ("가볍", "가벼워요"), ("길", "길어요")]
ADVERBS = "정말 아주 너무 조금 빨리 천천히 같이 혼자 다시 먼저 벌써 아직 함께 열심히 잘 많이 일찍 늦게".split()
CONNECTORS = "그리고 그래서 하지만 그런데 그러면 그러니까".split()

NATIVE_COUNT = ["한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "열한", "열두", "스무"]
NATIVE_COUNTERS = "개 명 마리 잔 병 권 시 살 번 장 대 송이 그릇".split()
SINO_COUNTERS = "원 년 월 일 분 층 번 호 킬로미터 미터 퍼센트 도 페이지 초".split()
QUESTIONS = "뭐 어디 언제 누구 왜 어떻게 얼마나 몇".split()


def _formal(stem: str) -> str:
    """먹 -> 먹습니다, 가 -> 갑니다, 만들 -> 만듭니다 (ㄹ drops before ㅂ)."""
    last = stem[-1]
    if final_of(last) in ("", "ㄹ"):
        return stem[:-1] + with_final(last, "ㅂ") + "니다"
    return stem + "습니다"


def _drop_l(stem: str) -> str:
    """ㄹ-stems lose their ㄹ before ㄴ: 만들 + 는데요 -> 만드는데요."""
    return stem[:-1] + with_final(stem[-1], "") if final_of(stem[-1]) == "ㄹ" else stem


def _conjugate(stem: str, polite: str, rng: random.Random, verb: bool = True) -> str:
    base = polite[:-1]  # 먹어요 -> 먹어
    endings = [polite, base[:-1] + with_final(base[-1], "ㅆ") + "어요", _formal(stem), stem + "지 않아요", stem + "지요"]
    if verb:
        endings += [stem + "고 싶어요", _drop_l(stem) + "는데요", stem + "고 있어요", stem + "겠습니다"]
    return rng.choice(endings)


def _number_phrase(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(NATIVE_COUNT)} {rng.choice(NATIVE_COUNTERS)}"
    magnitude = rng.choice([10, 100, 1000, 10000, 100000, 2100])
    number = str(rng.randrange(1, magnitude))
    if rng.random() < 0.15:
        number += f".{rng.randrange(1, 10)}"
    return f"{read_sino_korean(number)} {rng.choice(SINO_COUNTERS)}"


def natural_sentence(rng: random.Random) -> str:
    subject = particle(rng.choice(PEOPLE), "은", "는") if rng.random() < 0.6 else particle(rng.choice(PEOPLE), "이", "가")
    time = rng.choice(TIMES)
    place = rng.choice(PLACES)
    thing = rng.choice(THINGS)
    template = rng.randrange(10)
    if template == 0:
        stem, polite = rng.choice(ACTIONS)
        words = [subject, time, particle(place, "에서", "에서"), particle(thing, "을", "를"), _conjugate(stem, polite, rng)]
    elif template == 1:
        stem, polite = rng.choice(MOVES)
        words = [subject, time, particle(place, "에", "에"), _conjugate(stem, polite, rng)]
    elif template == 2:
        stem, polite = rng.choice(STATES)
        words = [particle(rng.choice([thing, place]), "이", "가"), rng.choice(ADVERBS), _conjugate(stem, polite, rng, verb=False)]
    elif template == 3:
        stem, polite = rng.choice(ACTIONS)
        words = [subject, particle(thing, "을", "를"), _number_phrase(rng), _conjugate(stem, polite, rng)]
    elif template == 4:
        words = [particle(place, "에", "에"), particle(thing, "이", "가"), _number_phrase(rng), rng.choice(["있어요", "있습니다", "없어요", "남았어요"])]
    elif template == 5:
        words = [time, rng.choice(QUESTIONS), rng.choice(["가요", "먹어요", "했어요", "있어요", "만나요", "와요"])]
    elif template == 6:
        stem, polite = rng.choice(ACTIONS)
        stem2, polite2 = rng.choice(STATES)
        words = [particle(thing, "을", "를"), stem + "고", rng.choice(CONNECTORS), rng.choice(ADVERBS), _conjugate(stem2, polite2, rng, verb=False)]
    elif template == 7:
        words = [particle(rng.choice(PEOPLE), "의", "의"), particle(thing, "은", "는"), particle(place, "에", "에"), rng.choice(["있어요", "있었어요", "없어요", "있을 거예요"])]
    elif template == 8:
        stem, polite = rng.choice(MOVES)
        words = [_number_phrase(rng) + "에", subject, particle(place, "으로", "로"), _conjugate(stem, polite, rng)]
    else:
        stem, polite = rng.choice(ACTIONS)
        words = [rng.choice(CONNECTORS), subject, rng.choice(ADVERBS), particle(thing, "을", "를"), _conjugate(stem, polite, rng)]
    return " ".join(words)


# --- pseudo-words from the Korean syllable distribution ----------------------------------------

# Rough relative frequencies of modern initials/medials/finals in running Korean text; every
# jamo keeps a floor weight so rare ones (ㅃ, ㅒ, ㅋ final) still occur in many contexts.
_LEAD_WEIGHTS = [14, 2, 7, 12, 3, 6, 5, 2, 8, 2, 3, 1, 20, 6, 2, 2, 2, 2, 8]
_VOWEL_WEIGHTS = [18, 4, 2, 1, 10, 4, 5, 2, 10, 3, 1, 1, 1, 3, 5, 1, 1, 1, 8, 2, 16]
_TAIL_WEIGHTS = [8, 1, 1, 14, 1, 2, 2, 10, 2, 6, 1, 1, 1, 1, 1, 1, 9, 5, 1, 1, 3, 14, 1, 1, 1, 1, 1]
_NO_TAIL_WEIGHT = 110


def pseudo_syllable(rng: random.Random) -> str:
    lead = rng.choices(range(19), _LEAD_WEIGHTS)[0]
    vowel = rng.choices(range(21), _VOWEL_WEIGHTS)[0]
    tail = rng.choices(range(28), [_NO_TAIL_WEIGHT] + _TAIL_WEIGHTS)[0]
    return chr(0xAC00 + (lead * 21 + vowel) * 28 + tail)


def pseudo_sentence(rng: random.Random) -> str:
    return " ".join(
        "".join(pseudo_syllable(rng) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(2, 6))
    )


def syllable_count(text: str) -> int:
    return sum("\uac00" <= c <= "\ud7a3" for c in text)


def generate_sentences(n: int, seed: int, pseudo_share: float = 0.2,
                       min_syllables: int = 3, max_syllables: int = 30) -> list[str]:
    """`n` distinct sentences (natural and pseudo-word), deterministic for `seed`."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    attempts = 0
    while len(out) < n and attempts < 50 * n + 1000:
        attempts += 1
        text = pseudo_sentence(rng) if rng.random() < pseudo_share else natural_sentence(rng)
        if text in seen or not min_syllables <= syllable_count(text) <= max_syllables:
            continue
        seen.add(text)
        out.append(text)
    return out


def jamo_inventory(sentences: list[str]) -> dict[str, Counter]:
    """How often each initial, medial and final occurs (for checking coverage)."""
    counts = {"lead": Counter(), "vowel": Counter(), "tail": Counter()}
    for sentence in sentences:
        for char in sentence:
            if "\uac00" <= char <= "\ud7a3":
                code = ord(char) - 0xAC00
                counts["lead"][code // 588] += 1
                counts["vowel"][code // 28 % 21] += 1
                if code % 28:
                    counts["tail"][code % 28] += 1
    return counts
