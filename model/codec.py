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


def syllable_spans(jamo_chars) -> list[tuple[str, int, int]]:
    """(displayed text, first index, last index) of each syllable that a sequence of jamo (a
    string or a list of one-character tokens) recomposes into; text that is not jamo passes
    through one character at a time. `jamo_to_text` is the join of the texts."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(jamo_chars)
    while i < n:
        char = jamo_chars[i]
        if char in _LEAD_SET and i + 1 < n and jamo_chars[i + 1] in _VOWEL_SET:
            lead, vowel = char, jamo_chars[i + 1]
            # A final belongs to this syllable unless it is really the next initial; finals and
            # initials are distinct code points, so a final here is always ours.
            tail = jamo_chars[i + 2] if i + 2 < n and jamo_chars[i + 2] in _TAIL_SET else None
            last = i + 2 if tail else i + 1
            out.append((jamo.j2h(lead, vowel, tail) if tail else jamo.j2h(lead, vowel), i, last))
            i = last + 1
        else:
            is_jamo = char in _LEAD_SET or char in _VOWEL_SET or char in _TAIL_SET
            out.append((_visible(char) if is_jamo else char, i, i))
            i += 1
    return out


def jamo_to_text(jamo_text: str) -> str:
    """Recompose conjoining jamo into syllables for display.

    Well-formed input (initial, medial, optional final) gives exactly the original syllables.
    Ill-formed input (a medial with no initial, two finals in a row, a lone initial) keeps
    every jamo, each one that cannot join a syllable shown on its own.
    """
    return "".join(text for text, _, _ in syllable_spans(jamo_text))


PAD_CANDIDATES, UNK_CANDIDATES, DELIMITER_CANDIDATES = (PAD, "[PAD]"), (UNK, "[UNK]"), (WORD_DELIMITER, " ")


class JamoCodec:
    """Maps text to CTC label ids over the jamo vocabulary and back.

    Spaces become the word delimiter `|`; characters outside the vocabulary map to `<unk>`
    (the text normaliser decides beforehand what to do with Latin letters and digits).

    A checkpoint from elsewhere (a Hub `Wav2Vec2ForCTC` over syllables, with `[PAD]`/`[UNK]`)
    brings its own vocabulary and special tokens: `from_model_dir` reads them, and decoding
    works the same; only a jamo vocabulary decomposes text before encoding.
    """

    def __init__(self, vocab: list[str] | None = None, pad: str = PAD, unk: str | None = UNK,
                 word_delimiter: str | None = WORD_DELIMITER):
        self.vocab = list(vocab or VOCAB)
        self.token_to_id = {token: i for i, token in enumerate(self.vocab)}
        if pad not in self.token_to_id:
            raise ValueError(f"the vocabulary has no padding (CTC blank) token {pad!r}")
        self.pad, self.unk, self.word_delimiter = pad, unk, word_delimiter
        self.pad_id = self.token_to_id[pad]
        self.unk_id = self.token_to_id.get(unk)
        self.word_delimiter_id = self.token_to_id.get(word_delimiter)
        self.is_jamo = bool(_LEAD_SET & set(self.vocab))

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Text (syllables or jamo) -> label ids; runs of whitespace become one delimiter."""
        words = (text_to_jamo(text) if self.is_jamo else text).split()
        joined = (self.word_delimiter or " ").join(words)
        return [i for i in (self.token_to_id.get(char, self.unk_id) for char in joined) if i is not None]

    def decode_ids(self, ids) -> str:
        """Label ids (already collapsed) -> the vocabulary's text (jamo for the toolkit's own)
        with spaces between words; special tokens other than the delimiter are dropped."""
        chars = []
        for i in ids:
            i = int(i)
            if i == self.pad_id or i < 0 or i >= len(self.vocab):
                continue
            token = self.vocab[i]
            if token == self.word_delimiter:
                chars.append(" ")
            elif token != self.unk and not (token.startswith(("<", "[")) and token.endswith((">", "]")) and len(token) > 2):
                chars.append(token)
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
        """The vocabulary of a `vocab.json`, with the special tokens its `tokenizer_config.json`
        names (beside it), else the first of the usual spellings that it holds."""
        path = Path(path)
        vocab = read_vocab(path)
        config_path = path.with_name("tokenizer_config.json")
        named = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}

        def special(key, candidates):
            value = named.get(key)
            value = value.get("content") if isinstance(value, dict) else value
            if value in vocab:
                return value
            return next((c for c in candidates if c in vocab), None)

        pad = special("pad_token", PAD_CANDIDATES)
        if pad is None:
            raise ValueError(f"{path}: no padding (CTC blank) token among {', '.join(PAD_CANDIDATES)}")
        return cls(vocab, pad, special("unk_token", UNK_CANDIDATES), special("word_delimiter_token", DELIMITER_CANDIDATES))


def read_vocab(path: str | Path) -> list[str]:
    """The tokens of a `vocab.json` in id order (a nested per-language vocabulary is refused)."""
    token_to_id = json.loads(Path(path).read_text(encoding="utf-8"))
    if not all(isinstance(v, int) for v in token_to_id.values()):
        raise ValueError(f"{path}: not a flat token -> id vocabulary")
    return [token for token, _ in sorted(token_to_id.items(), key=lambda item: item[1])]


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
