"""Korean text <-> conjoining jamo, and the CTC vocabulary over them.

The model reads and writes jamo of the U+1100 block, where initial (choseong), medial
(jungseong) and final (jongseong) consonants are distinct characters: ㄱ as an initial is
U+1100 and as a final U+11A8. A jamo sequence therefore recomposes into syllables without
guessing. Decomposition is the `jamo` package's; recomposition is a small state machine
over `jamo.j2h` that never fails on ill-formed CTC output: jamo that do not form a
syllable are shown as compatibility jamo (ㄹ, ㅏ), so nothing the model said disappears.
"""

from __future__ import annotations

import json
from pathlib import Path

import jamo

PAD = "<pad>"  # also the CTC blank (Hugging Face convention: blank = pad id)
UNK = "<unk>"
WORD_DELIMITER = "|"

LEADS = [chr(c) for c in range(0x1100, 0x1113)]  # 19 modern initials
VOWELS = [chr(c) for c in range(0x1161, 0x1176)]  # 21 modern medials
TAILS = [chr(c) for c in range(0x11A8, 0x11C3)]  # 27 modern finals
JAMO = LEADS + VOWELS + TAILS
VOCAB = [PAD, UNK, WORD_DELIMITER] + JAMO

_LEAD_SET, _VOWEL_SET, _TAIL_SET = set(LEADS), set(VOWELS), set(TAILS)
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3


def _compat_to_conjoining(char: str) -> str:
    """A lone compatibility jamo in written text (ㅋㅋ, ㅠㅠ) becomes an initial or a medial."""
    try:
        return jamo.hcj_to_jamo(char, "lead")
    except Exception:
        try:
            return jamo.hcj_to_jamo(char, "vowel")
        except Exception:
            return char


def text_to_jamo(text: str) -> str:
    """Decompose Hangul syllables into conjoining jamo; other characters pass through."""
    out = []
    for char in text:
        code = ord(char)
        if _HANGUL_FIRST <= code <= _HANGUL_LAST:
            out.append(jamo.h2j(char))
        elif 0x3131 <= code <= 0x3163:
            out.append(_compat_to_conjoining(char))
        else:
            out.append(char)
    return "".join(out)


def _visible(char: str) -> str:
    """A conjoining jamo that is not part of a syllable, shown as a compatibility jamo."""
    try:
        return jamo.j2hcj(char)
    except Exception:
        return char


def jamo_for_display(jamo_text: str) -> str:
    """Every conjoining jamo as its compatibility jamo (ㅎㅏㄴ, not 한): browsers and fonts compose
    a run of conjoining jamo back into syllables, which would hide the sequence being shown."""
    return "".join(_visible(char) for char in jamo_text)


def jamo_to_text(jamo_text: str) -> str:
    """Recompose conjoining jamo into syllables for display.

    Well-formed input (initial, medial, optional final) gives exactly the original syllables.
    Ill-formed input (a medial with no initial, two finals in a row, a lone initial) keeps
    every jamo, each one that cannot join a syllable shown on its own.
    """
    out: list[str] = []
    i, n = 0, len(jamo_text)
    while i < n:
        char = jamo_text[i]
        if char in _LEAD_SET and i + 1 < n and jamo_text[i + 1] in _VOWEL_SET:
            lead, vowel = char, jamo_text[i + 1]
            tail = None
            # A final belongs to this syllable unless it is really the next initial; finals and
            # initials are distinct code points, so a final here is always ours.
            if i + 2 < n and jamo_text[i + 2] in _TAIL_SET:
                tail = jamo_text[i + 2]
            out.append(jamo.j2h(lead, vowel, tail) if tail else jamo.j2h(lead, vowel))
            i += 3 if tail else 2
        elif char in _LEAD_SET or char in _VOWEL_SET or char in _TAIL_SET:
            out.append(_visible(char))
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


class JamoCodec:
    """Maps text to CTC label ids over the jamo vocabulary and back.

    Spaces become the word delimiter `|`; characters outside the vocabulary map to `<unk>`
    (the text normaliser decides beforehand what to do with Latin letters and digits).
    """

    def __init__(self, vocab: list[str] | None = None):
        self.vocab = list(vocab or VOCAB)
        self.token_to_id = {token: i for i, token in enumerate(self.vocab)}
        self.pad_id = self.token_to_id[PAD]
        self.unk_id = self.token_to_id[UNK]
        self.word_delimiter_id = self.token_to_id[WORD_DELIMITER]

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Text (syllables or jamo) -> label ids; runs of whitespace become one delimiter."""
        words = text_to_jamo(text).split()
        jamo_text = WORD_DELIMITER.join(words)
        return [self.token_to_id.get(char, self.unk_id) for char in jamo_text]

    def decode_ids(self, ids) -> str:
        """Label ids (already collapsed) -> jamo string with spaces between words."""
        chars = []
        for i in ids:
            i = int(i)
            if i == self.pad_id or i < 0:
                continue
            token = self.vocab[i]
            chars.append(" " if token == WORD_DELIMITER else ("" if token == UNK else token))
        return " ".join("".join(chars).split())

    def decode(self, ids) -> str:
        """Label ids -> syllable text."""
        return jamo_to_text(self.decode_ids(ids))

    def save_vocab(self, directory: str | Path) -> Path:
        """Write `vocab.json` in the layout `Wav2Vec2CTCTokenizer` reads."""
        path = Path(directory) / "vocab.json"
        path.write_text(json.dumps(self.token_to_id, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def from_vocab_file(cls, path: str | Path) -> JamoCodec:
        token_to_id = json.loads(Path(path).read_text(encoding="utf-8"))
        vocab = [token for token, _ in sorted(token_to_id.items(), key=lambda item: item[1])]
        return cls(vocab)


def build_processor(codec: JamoCodec, directory: str | Path, sampling_rate: int = 16000):
    """A Hugging Face `Wav2Vec2Processor` over the jamo vocabulary, saved to `directory`."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = codec.save_vocab(directory)
    tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab_file), unk_token=UNK, pad_token=PAD, word_delimiter_token=WORD_DELIMITER,
        bos_token=None, eos_token=None,
    )
    feature_extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=sampling_rate, padding_value=0.0,
        do_normalize=True, return_attention_mask=True,
    )
    processor = Wav2Vec2Processor(feature_extractor=feature_extractor, tokenizer=tokenizer)
    processor.save_pretrained(str(directory))
    return processor
