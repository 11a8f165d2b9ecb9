"""The tokenizer an exported CTC directory ships so that the Hugging Face pipeline writes Korean.

The model spells in conjoining jamo (ᄒ ᅡ ᆫ); this `Wav2Vec2CTCTokenizer` composes its decoded
text into syllables (한), as `model.codec.jamo_to_text` does: Unicode NFC composes every initial +
medial (+ final) into its syllable, and a jamo left alone is shown as its compatibility letter.
`python -m model.export` copies this file next to the weights, and `tokenizer_config.json`'s
`auto_map` names it, so `pipeline("automatic-speech-recognition", DIR, trust_remote_code=True)`
loads it. Without `trust_remote_code` the plain tokenizer loads and gives the jamo (which browsers
still draw as syllables). The file travels alone to the Hub: it needs only the standard library
and transformers.
"""

from __future__ import annotations

import unicodedata

from transformers import Wav2Vec2CTCTokenizer

_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"  # U+1100..U+1112 as compatibility jamo
_TAILS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"  # U+11A8..U+11C2


def _visible(char: str) -> str:
    code = ord(char)
    if 0x1100 <= code <= 0x1112:
        return _LEADS[code - 0x1100]
    if 0x1161 <= code <= 0x1175:
        return chr(0x314F + code - 0x1161)  # medials are in the same order in both blocks
    if 0x11A8 <= code <= 0x11C2:
        return _TAILS[code - 0x11A8]
    return char


def compose(jamo_text: str) -> str:
    """Conjoining jamo -> syllables; a jamo that joins no syllable -> its compatibility letter."""
    return "".join(_visible(char) for char in unicodedata.normalize("NFC", jamo_text))


class KoreanJamoCTCTokenizer(Wav2Vec2CTCTokenizer):
    """Decodes to composed Hangul syllables; character and word offsets stay in jamo."""

    def _decode(self, *args, **kwargs):
        output = super()._decode(*args, **kwargs)
        if isinstance(output, str):
            return compose(output)
        output["text"] = compose(output["text"])
        return output
