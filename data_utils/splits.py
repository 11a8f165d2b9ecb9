"""Train/valid/test splits of a manifest: deterministic for a seed, speaker-disjoint when speakers are known.

With few speakers, a random split measures speaker identification rather than gender or
age recognition, so rows are split by *unit*: a speaker (all their utterances go to one part)
when a group column is filled, else a single row. Units are drawn with scikit-learn's
`train_test_split`, stratified by a label when asked (a speaker's stratum is their most
frequent label); drawing whole groups is what `GroupShuffleSplit` does, and doing it on the
unit list lets the draw be stratified too. Fractions count units, so with speakers of very
different sizes the row shares differ from the fractions (the summary prints both).

Tiny corpora: with fewer speakers than non-empty parts (2 speakers for 3 parts) train gets
its speaker(s) and valid and test share the held-out ones, their utterances split at random;
with a single speaker, rows are split at random. Each such fallback comes with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

PARTS = ("train", "valid", "test")
UNGROUPED = "\x00row"  # group key prefix for a row whose group is unknown: it stands alone


@dataclass
class Split:
    parts: dict[str, pd.DataFrame]
    method: str
    warnings: list[str] = field(default_factory=list)


def parse_fractions(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' (or '80,10,10') -> (0.8, 0.1, 0.1)."""
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--split {text!r}: expected three numbers like 0.8,0.1,0.1") from None
    if len(values) != 3 or min(values) < 0 or sum(values) <= 0 or values[0] == 0:
        raise ValueError(f"--split {text!r}: expected three non-negative numbers, train > 0, like 0.8,0.1,0.1")
    total = sum(values)
    return tuple(v / total for v in values)


def allocate(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Split `n` units into counts close to `fractions`; every non-zero part gets one when there are enough."""
    total = sum(fractions)
    raw = [f / total * n for f in fractions]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))[: n - sum(counts)]:
        counts[i] += 1  # largest remainders first
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if n >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                counts[i] += 1
                counts[max(range(len(counts)), key=lambda j: counts[j])] -= 1
    return counts


def _unit_labels(keys: pd.Series, labels: pd.Series, units: np.ndarray) -> np.ndarray:
    """Each unit's most frequent label ('unknown' for empty); ties go to the label sorted first."""
    named = labels.astype(str).str.strip().replace("", "unknown")
    counts = pd.DataFrame({"unit": keys.values, "label": named.values}).value_counts().reset_index(name="n")
    counts = counts.sort_values(["unit", "n", "label"], ascending=[True, False, True]).drop_duplicates("unit")
    return counts.set_index("unit").loc[units, "label"].to_numpy()


def _draw(units: np.ndarray, strata: np.ndarray | None, count: int, seed: int, warnings: list[str]):
    """(drawn, rest): `count` units drawn at random, stratified when the strata allow it."""
    if count <= 0:
        return units[:0], units
    if count >= len(units):
        return units, units[:0]
    if strata is not None:
        try:
            rest, drawn = train_test_split(units, test_size=count, stratify=strata, random_state=seed)
            return np.sort(drawn), np.sort(rest)
        except ValueError as error:
            message = f"cannot stratify a draw of {count} of {len(units)} units ({error}); drawn without stratification"
            if message not in warnings:
                warnings.append(message)
    rest, drawn = train_test_split(units, test_size=count, random_state=seed)
    return np.sort(drawn), np.sort(rest)


def _assign(keys: pd.Series, strata_labels: pd.Series | None, fractions: tuple[float, ...], seed: int,
            warnings: list[str]) -> pd.Series:
    """Part index (0 = train, 1, 2, ...) per row, drawing whole units (`keys`)."""
    units = np.unique(keys.to_numpy(dtype=str))
    strata = _unit_labels(keys, strata_labels, units) if strata_labels is not None else None
    counts = allocate(len(units), fractions)
    part_of, rest = {}, units
    for part in range(len(fractions) - 1, 0, -1):  # held-out parts first, train keeps the rest
        rest_strata = strata[np.isin(units, rest)] if strata is not None else None
        drawn, rest = _draw(rest, rest_strata, counts[part], seed, warnings)
        part_of.update(dict.fromkeys(drawn, part))
    part_of.update(dict.fromkeys(rest, 0))
    return keys.astype(str).map(part_of)


def _group_keys(frame: pd.DataFrame, group_by: str | None) -> pd.Series | None:
    """Group per row, rows with an empty group each their own; None when no row has one."""
    if not group_by or group_by not in frame.columns:
        return None
    values = frame[group_by].astype(str).str.strip()
    if not values.ne("").any():
        return None
    return values.where(values.ne(""), UNGROUPED + pd.Series(frame.index, index=frame.index).astype(str))


def _display(group: str) -> str:
    return "(a row without one)" if group.startswith(UNGROUPED) else group


def split_manifest(frame: pd.DataFrame, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                   group_by: str | None = "speaker", stratify: str | None = None, seed: int = 0) -> Split:
    frame = frame.reset_index(drop=True)
    warnings: list[str] = []
    if stratify and stratify not in frame.columns:
        warnings.append(f"no column {stratify!r} to stratify by; split without stratification")
        stratify = None
    labels = frame[stratify] if stratify else None
    row_keys = pd.Series(frame.index.astype(str), index=frame.index)
    groups = _group_keys(frame, group_by)
    wanted = sum(f > 0 for f in fractions)
    stratified = f", stratified by {stratify}" if stratify else ""

    if groups is None:
        if group_by:
            warnings.append(f"no {group_by} known: rows split at random, so valid/test scores measure unseen "
                            f"utterances, not unseen {group_by}s")
        part = _assign(row_keys, labels, fractions, seed, warnings)
        method = f"random rows{stratified}, seed {seed}"
    else:
        named = sorted(g for g in groups.unique() if not g.startswith(UNGROUPED))
        if groups.nunique() >= wanted:
            part = _assign(groups, labels, fractions, seed, warnings)
            method = f"{group_by}-disjoint ({len(named)} {group_by}s){stratified}, seed {seed}"
        elif groups.nunique() >= 2:
            part = _assign(groups, labels, (fractions[0], 0.0, fractions[1] + fractions[2]), seed, warnings)
            held = part.eq(2)  # only here with three non-empty parts and two units: valid and test share one
            inner = _assign(row_keys[held], labels[held] if labels is not None else None,
                            (0.0, fractions[1], fractions[2]), seed, warnings)
            part[held] = inner.map({0: 1, 1: 1, 2: 2})
            held_out = [_display(g) for g in sorted(groups[held].unique())]
            warnings.append(f"only {groups.nunique()} {group_by}s: a {group_by}-disjoint split into {wanted} parts "
                            f"is impossible; train has {groups.nunique() - len(held_out)} {group_by}(s), valid and test "
                            f"share the held-out {group_by}(s) {', '.join(held_out)} (their utterances split at random)")
            method = f"{group_by}-disjoint train vs held-out, held-out rows split at random{stratified}, seed {seed}"
        else:
            warnings.append(f"only one {group_by} ({named[0] if named else '?'}): a {group_by}-disjoint split is "
                            f"impossible; rows split at random, so valid/test measure unseen utterances of the same voice")
            part = _assign(row_keys, labels, fractions, seed, warnings)
            method = f"random rows (single {group_by}){stratified}, seed {seed}"

    parts = {name: frame[part.eq(i)].reset_index(drop=True) for i, name in enumerate(PARTS)}
    for name, fraction in zip(PARTS, fractions):
        if fraction > 0 and parts[name].empty:
            warnings.append(f"{name} is empty: too few {'units' if groups is None else group_by + 's'} "
                            f"({len(frame)} rows) for the fractions {', '.join(f'{f:.2f}' for f in fractions)}")
    return Split(parts, method, warnings)
