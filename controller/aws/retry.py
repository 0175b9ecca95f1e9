"""Deletes that wait for AWS to let go, retried with growing delays.

AWS refuses to delete some resources for a while after what used them is gone: a security
group stays `DependencyViolation` until the load balancer's network interfaces are released
(minutes), a target group `ResourceInUse` until its load balancer has let it go. botocore's
retries cover throttling and 5xx, not these, so `delete_waiting` retries the one "busy" code
until a deadline, treats the "gone" code as done, and turns anything else into an `AwsError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.errors import has_code, translate


def backoff(
    total: float, first: float = 2.0, factor: float = 1.5, cap: float = 30.0
) -> Iterator[float]:
    """Delays growing from `first` by `factor` up to `cap`, summing to about `total`."""
    spent, delay = 0.0, first
    while spent < total:
        step = min(delay, cap, total - spent)
        yield step
        spent += step
        delay *= factor


def delete_waiting(
    call: Callable[[], Any],
    *,
    what: str,
    gone: str,
    busy: str,
    timeout: float,
    sleep: Callable[[float], None],
    first: float = 2.0,
) -> None:
    """Run `call` until it succeeds or fails with `gone`; wait out `busy` for `timeout` s."""
    delays = backoff(timeout, first=first)
    while True:
        try:
            call()
            return
        except ClientError as error:
            if has_code(error, gone):
                return
            delay = next(delays, None)
            if not has_code(error, busy) or delay is None:
                raise translate(error, what) from error
            sleep(delay)
