"""What a scheduler counts about itself, for its /metrics endpoint (per process, reset at start)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flowyard.executor.base import AttemptResult

# Upper bounds (seconds) of the task duration histogram buckets.
DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)


@dataclass
class SchedulerMetrics:
    lost: int = 0  # attempts declared lost (worker or server silent)
    republished: int = 0  # queued attempts published to the broker again
    outcomes: dict[str, int] = field(default_factory=dict)
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_sum: float = 0.0
    duration_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, result: AttemptResult) -> None:
        seconds = max((result.ended_at - result.started_at).total_seconds(), 0.0)
        with self._lock:
            self.outcomes[result.outcome.value] = self.outcomes.get(result.outcome.value, 0) + 1
            self.duration_sum += seconds
            self.duration_count += 1
            for index, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:  # buckets are cumulative, as Prometheus expects
                    self.bucket_counts[index] += 1
