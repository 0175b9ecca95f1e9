"""AWS-style request token buckets: full at start, one token per call, steady refill.

AWS rate-limits each account and region with token buckets: a bucket holds up to its burst
capacity, each call takes a token, and tokens come back at a fixed rate; a call that finds
its bucket empty is refused at once (it does not queue). That is what is modelled here, with
an injectable clock so tests can step time instead of sleeping. Hand-written because the
semantics (refuse, never wait; several buckets taken atomically) are a dozen lines, and the
rate-limiter libraries on PyPI wait for tokens instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox.awsproxy.profiles import BucketSpec

Clock = Callable[[], float]


class TokenBucket:
    """One bucket of ``spec``; ``clock`` returns seconds (monotonic)."""

    def __init__(self, spec: BucketSpec, clock: Clock) -> None:
        self.spec = spec
        self._clock = clock
        self._tokens = spec.capacity
        self._stamp = clock()

    def tokens(self) -> float:
        """Tokens available now, after refilling for the time that passed."""
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.spec.capacity, self._tokens + elapsed * self.spec.refill_per_s)
        self._stamp = now
        return self._tokens

    def take(self) -> None:
        """Remove one token; the caller has checked ``tokens() >= 1``."""
        self._tokens = max(0.0, self._tokens - 1)


class BucketSet:
    """All buckets of a profile, created on first use (per-operation buckets are many)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def try_take(self, wanted: list[tuple[str, BucketSpec]]) -> bool:
        """Take one token from every bucket in ``wanted`` if each has one; else take none."""
        buckets = [self._bucket(key, spec) for key, spec in wanted]
        if any(bucket.tokens() < 1 - 1e-9 for bucket in buckets):
            return False
        for bucket in buckets:
            bucket.take()
        return True

    def levels(self) -> dict[str, float]:
        """Tokens in each bucket used so far, for the stats endpoint."""
        return {key: round(bucket.tokens(), 3) for key, bucket in sorted(self._buckets.items())}

    def refill(self) -> None:
        """Forget all buckets, so each starts full again on next use."""
        self._buckets.clear()

    def _bucket(self, key: str, spec: BucketSpec) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.spec != spec:
            bucket = self._buckets[key] = TokenBucket(spec, self._clock)
        return bucket
