"""Corpus loaders, one module per native format, by the name `prepare --source` uses.

Each is `load(input_path, **options) -> LoadResult`: rows in canonical columns (absolute
paths, text as written, labels as the corpus spells them) and the rows it had to reject.
`synth` is the synthetic corpus of `data_utils.synth`, whose `manifest.csv` is a plain table.
"""

from __future__ import annotations

from collections.abc import Callable

from data_utils.corpora import aihub, commonvoice, deeply, folder, kspon, kss, table
from data_utils.corpora.common import CorpusError, LoadResult, Rejection

LOADERS: dict[str, Callable[..., LoadResult]] = {
    "csv": table.load,
    "commonvoice": commonvoice.load,
    "aihub": aihub.load,
    "kspon": kspon.load,
    "folder": folder.load,
    "deeply": deeply.load,
    "kss": kss.load,
    "synth": table.load,
}

__all__ = ["LOADERS", "CorpusError", "LoadResult", "Rejection"]
