"""Retry policies: exponential backoff with jitter, spelled out as RQ retry intervals.

The jitter is drawn once per job at enqueue, so a burst of jobs that failed together (an AI outage)
comes back spread out instead of as one thundering herd.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 600.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def intervals(self, rng: random.Random | None = None, scale: float = 1.0) -> list[int]:
        """Seconds to wait before attempts 2..max_attempts (scale shrinks them, for tests and drills)."""
        draw = rng or random
        delays = []
        for retry in range(self.max_attempts - 1):
            base = min(self.backoff_seconds * scale * (2**retry), self.max_backoff_seconds)
            spread = base * self.jitter
            delays.append(max(1, round(base + draw.uniform(-spread, spread))))
        return delays
