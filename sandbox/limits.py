"""GitHub's secondary rate limits, enforced (TRACKER_APIS.md): at most 100 requests in flight and
at most 900 points a minute for REST (a GET, HEAD or OPTIONS 1 point, other methods 5). A request
beyond either is answered 403 with GitHub's secondary-limit message and ``Retry-After``, and
costs nothing. Written apart from the connectors' pacing (``connectors/pacing.py``) on purpose:
the sandbox checks the client against GitHub's documented numbers, not against itself."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SecondaryLimits:
    max_in_flight: int = 100
    points: int = 900
    window_seconds: float = 60.0


class SecondaryLimiter:
    """Counts requests in flight and points spent in the last window; ``refused`` counts 403s."""

    def __init__(self, limits: SecondaryLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._spent: deque[tuple[float, int]] = deque()
        self._points = 0
        self._in_flight = 0
        self.refused = 0
        self.peak_in_flight = 0

    def enter(self, method: str) -> str | None:
        """Admit a request (then ``leave`` must follow), or say which limit it breaks."""
        cost = 1 if method.upper() in ("GET", "HEAD", "OPTIONS") else 5
        with self._lock:
            now = time.monotonic()
            while self._spent and self._spent[0][0] <= now - self.limits.window_seconds:
                self._points -= self._spent.popleft()[1]
            if self._in_flight >= self.limits.max_in_flight:
                self.refused += 1
                return "concurrent requests"
            if self._points + cost > self.limits.points:
                self.refused += 1
                return "points per minute"
            self._spent.append((now, cost))
            self._points += cost
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            return None

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def reset_counts(self) -> None:
        """Zero the counts and start a new window (``/_sandbox/stats/reset``): runs a benchmark
        measures one after another are nights apart in life, and share no minute of budget."""
        with self._lock:
            self.refused = 0
            self.peak_in_flight = self._in_flight
            self._spent.clear()
            self._points = 0
