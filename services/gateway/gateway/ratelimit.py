"""Per-client rate limit for the public verification endpoints: a token bucket
per client address, kept in the gateway process.

Config: ``VERIFY_RATE_PER_MINUTE`` (sustained, default 60) and
``VERIFY_RATE_BURST`` (default 30). Each gateway instance keeps its own
buckets, so N instances allow N times the rate; put a shared limiter in front
(e.g. the ingress) when scaling out.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider

from wpis_common.config import setting

MAX_TRACKED_CLIENTS = 100_000


class TokenBuckets:
    """Pure: ``take(client)`` -> seconds to wait (0 when allowed). Injectable clock."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ):
        if per_minute <= 0 or burst < 1:
            raise ValueError("the rate and the burst must be positive")
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> int:
        """Spend one token for ``client``; 0 if it had one, else whole seconds to wait."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._remember(client, tokens - 1.0, now)
            return 0
        self._remember(client, tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)  # the least recently seen client


class VerifyRateLimit(DependencyProvider):
    """One set of buckets per gateway process, shared by its workers."""

    def setup(self) -> None:
        self.buckets = TokenBuckets(
            per_minute=float(setting("VERIFY_RATE_PER_MINUTE", 60)),
            burst=int(setting("VERIFY_RATE_BURST", 30)),
        )

    def get_dependency(self, worker_ctx: Any) -> TokenBuckets:
        return self.buckets
