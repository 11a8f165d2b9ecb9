"""Label classes for the speaker-attribute heads: fitted with scikit-learn's LabelEncoder (sorted
classes), encoded by a dictionary lookup.

Classes are learned from the training manifest and saved as `labels.json` (head -> classes, in
index order). `LabelSet` is the only code that knows that file's name and format: `prepare`
writes it beside the manifests, training into its run folder, a saved model into its directory.
A label that is empty, or unseen at training time, encodes to -100 (unknown: ignored by the loss).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight

from data_utils.manifest import HEADS

IGNORE = -100
LABELS_NAME = "labels.json"


class LabelSet:
    def __init__(self, classes: dict[str, list[str]]):
        self.classes = {head: list(values) for head, values in classes.items() if values}
        self._index = {head: {c: i for i, c in enumerate(values)} for head, values in self.classes.items()}

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.classes)

    @classmethod
    def fit(cls, frame, heads=HEADS, min_classes: int = 2) -> LabelSet:
        """Learn classes per head from a manifest frame; heads with fewer than `min_classes`
        known values are left out (nothing to learn)."""
        classes = {}
        for head in heads:
            if head not in frame.columns:
                continue
            known = [str(v) for v in frame[head] if str(v).strip() not in ("", "nan")]
            encoder = LabelEncoder().fit(known) if known else None
            if encoder is not None and len(encoder.classes_) >= min_classes:
                classes[head] = [str(c) for c in encoder.classes_]
        return cls(classes)

    def encode(self, head: str, value) -> int:
        return self._index.get(head, {}).get(str(value).strip(), IGNORE)

    def class_weights(self, frame) -> dict[str, list[float]]:
        """'balanced' weights per head from the known labels in `frame`."""
        weights = {}
        for head, values in self.classes.items():
            known = [str(v) for v in frame[head] if str(v) in self._index[head]]
            present = np.unique(known)
            balanced = dict(zip(present, compute_class_weight("balanced", classes=present, y=known))) if known else {}
            weights[head] = [float(balanced.get(c, 1.0)) for c in values]
        return weights

    @staticmethod
    def path(directory) -> Path:
        """Where a folder (prepared corpus, run, model) keeps its label classes."""
        return Path(directory) / LABELS_NAME

    def save(self, directory) -> Path:
        path = self.path(directory)
        path.write_text(json.dumps(self.classes, indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory) -> LabelSet:
        return cls(json.loads(cls.path(directory).read_text(encoding="utf-8")))
