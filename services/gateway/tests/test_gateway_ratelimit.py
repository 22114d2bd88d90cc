"""The per-client token bucket behind the public verification rate limit."""

from __future__ import annotations

import pytest

from gateway.ratelimit import TokenBuckets


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_waits_for_the_refill():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == 1  # one token a second at 60 a minute
    clock.now += 1.0
    assert buckets.take("a") == 0
    assert buckets.take("a") == 1


def test_clients_have_separate_buckets():
    buckets = TokenBuckets(per_minute=6, burst=1, clock=FakeClock())
    assert buckets.take("a") == 0
    assert buckets.take("a") == 10  # 6 a minute: 10 s to the next token
    assert buckets.take("b") == 0


def test_a_bucket_never_holds_more_than_the_burst():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=2, clock=clock)
    buckets.take("a")
    clock.now += 3600
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 1]


def test_the_least_recently_seen_clients_are_forgotten_first():
    buckets = TokenBuckets(per_minute=1, burst=1, clock=FakeClock(), max_clients=2)
    buckets.take("a")
    buckets.take("b")
    buckets.take("c")  # "a" is forgotten: it starts afresh with a full bucket
    assert buckets.take("a") == 0
    assert buckets.take("c") > 0


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-5, 1), (60, 0)])
def test_nonsense_limits_are_refused(per_minute, burst):
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=per_minute, burst=burst)
