"""What a prediction is: the transcript, its timed words and syllables, each head's label and
probabilities, per recording; and how the windows of a long recording join into one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data_utils.manifest import HEADS

CSV_COLUMNS = ["path", "text", "jamo", "confidence", *(c for h in HEADS for c in (h, f"{h}_prob")), "duration", "error"]


@dataclass
class HeadPrediction:
    label: str
    probability: float
    distribution: dict[str, float]


@dataclass
class Timed:
    text: str
    start: float  # seconds from the start of the recording
    end: float
    confidence: float  # mean best-path posterior over its frames (model.timestamps)


@dataclass
class Word(Timed):
    syllables: list[Timed] = field(default_factory=list)


@dataclass
class Prediction:
    path: str = ""
    text: str = ""
    jamo: str = ""
    heads: dict[str, HeadPrediction] = field(default_factory=dict)
    duration: float = 0.0
    error: str = ""
    words: list[Word] = field(default_factory=list)

    @property
    def confidence(self) -> float | None:
        """The utterance's: its words' confidences weighted by their length."""
        weights = [w.end - w.start for w in self.words]
        return float(np.average([w.confidence for w in self.words], weights=weights)) if sum(weights) > 0 else None

    def row(self) -> dict:
        confidence = self.confidence
        row = {"path": self.path, "text": self.text, "jamo": self.jamo, "duration": round(self.duration, 3), "error": self.error,
               "confidence": round(confidence, 4) if confidence is not None else ""}
        for head in [*HEADS, *(h for h in self.heads if h not in HEADS)]:  # a model's own heads too
            prediction = self.heads.get(head)
            row[head] = prediction.label if prediction else ""
            row[f"{head}_prob"] = round(prediction.probability, 4) if prediction else ""
        return row


def head_prediction(classes: list[str], probabilities: np.ndarray) -> HeadPrediction:
    best = int(np.argmax(probabilities))
    return HeadPrediction(classes[best], float(probabilities[best]), {c: float(v) for c, v in zip(classes, probabilities)})


def join_pieces(pieces: list[tuple[float, Prediction]], labels: dict[str, list[str]], duration: float) -> Prediction:
    """One recording's prediction from its windows' (start in seconds, prediction), in time
    order: texts joined, word times moved to the recording's clock, head probabilities
    averaged over the windows weighted by their duration."""
    words, sums = [], {h: np.zeros(len(classes)) for h, classes in labels.items()}
    for offset, piece in pieces:
        words += [_shifted(w, offset) for w in piece.words]
        for head, prediction in piece.heads.items():
            sums[head] += np.array([prediction.distribution[c] for c in labels[head]]) * piece.duration
    heads = {h: head_prediction(labels[h], total / max(total.sum(), 1e-12)) for h, total in sums.items()}
    return Prediction(text=" ".join(p.text for _, p in pieces if p.text), jamo=" ".join(p.jamo for _, p in pieces if p.jamo),
                      heads=heads, duration=duration, words=words)


def _shifted(word: Word, offset: float) -> Word:
    def move(t: Timed) -> Timed:
        return Timed(t.text, round(t.start + offset, 3), round(t.end + offset, 3), t.confidence)

    moved = move(word)
    return Word(moved.text, moved.start, moved.end, moved.confidence, [move(s) for s in word.syllables])
