"""Fault injection, for the tests of crash recovery and non-finite losses only.

Not a training option: it is no field of `TrainConfig`, so no config file or flag can turn it
on. A test sets `FAULTS_ENV` to a JSON object of `FaultInjection` fields in the environment
of `python -m distributed.train`; the driver passes that variable on to its Ray workers, and
each worker's loop reads it. Unset (every real run), nothing is injected.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

FAULTS_ENV = "KOREAN_SPEECH_TEST_FAULTS"
MARKER = ".fault-injected"  # in the run folder: the worker already died once, so it does not again


@dataclass(frozen=True)
class FaultInjection:
    fail_at_step: int | None = None  # the last rank's worker dies once, at this step
    inject_nonfinite_every: int | None = None  # every Nth batch of an epoch has a NaN loss

    @classmethod
    def from_env(cls) -> FaultInjection:
        """The faults the test asked for (none when `FAULTS_ENV` is unset); an unknown field
        is an error, so that a misspelt fault does not quietly test nothing."""
        data = json.loads(os.environ.get(FAULTS_ENV) or "{}")
        known = {f.name for f in dataclasses.fields(cls)}
        if set(data) - known:
            raise ValueError(f"{FAULTS_ENV}: unknown fault(s) {', '.join(sorted(set(data) - known))}")
        return cls(**data)

    def maybe_die(self, step: int, rank: int, world_size: int, output: Path) -> None:
        """A simulated hardware fault: the last rank's process exits without any clean-up, once
        per run folder (its restart must get past the step)."""
        marker = Path(output) / MARKER
        if self.fail_at_step is not None and step == self.fail_at_step and rank == world_size - 1 and not marker.exists():
            marker.write_text("1")
            os._exit(1)

    def poison(self, loss, batch_in_epoch: int):
        """The loss, made NaN on every `inject_nonfinite_every`-th batch of an epoch."""
        if self.inject_nonfinite_every and batch_in_epoch % self.inject_nonfinite_every == 0:
            return loss * float("nan")
        return loss


def forwarded_env() -> dict[str, str]:
    """`FAULTS_ENV` for the Ray workers' environment, when a test has set it."""
    return {FAULTS_ENV: os.environ[FAULTS_ENV]} if FAULTS_ENV in os.environ else {}
