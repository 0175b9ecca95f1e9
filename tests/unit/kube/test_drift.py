"""The drift sweep: a group is checked only when its stack's fingerprint moved with no deploy
of ours in between; a deploy, a busy group or a failed sweep never counts as drift."""

from __future__ import annotations

import pytest

from controller.aws import AwsError
from controller.kube.drift import DriftSweep


def sweep_of(live: dict[str, str], changes: dict[str, int]) -> DriftSweep:
    return DriftSweep(lambda: dict(live), changes)


async def test_a_fingerprint_that_moves_between_sweeps_is_drift() -> None:
    live, changes = {"shop/a": "1", "shop/b": "1"}, {"shop/a": 2, "shop/b": 2}
    drift = sweep_of(live, changes)
    assert await drift.sweep(["shop/a", "shop/b"], lambda _: False) == set()  # baselines
    assert await drift.sweep(["shop/a", "shop/b"], lambda _: False) == set()  # unchanged
    live["shop/a"] = "2"  # a tag or a health check edited by hand
    assert await drift.sweep(["shop/a", "shop/b"], lambda _: False) == {"shop/a"}
    # The new state is the baseline now: not reported twice.
    assert await drift.sweep(["shop/a", "shop/b"], lambda _: False) == set()


async def test_a_stack_deleted_by_hand_is_drift() -> None:
    live, changes = {"shop/a": "1"}, {"shop/a": 2}
    drift = sweep_of(live, changes)
    await drift.sweep(["shop/a"], lambda _: False)
    del live["shop/a"]
    assert await drift.sweep(["shop/a"], lambda _: False) == {"shop/a"}


async def test_a_deploy_of_ours_since_the_baseline_is_not_drift() -> None:
    live, changes = {"shop/a": "1"}, {"shop/a": 2}
    drift = sweep_of(live, changes)
    await drift.sweep(["shop/a"], lambda _: False)
    live["shop/a"], changes["shop/a"] = "2", 4  # we deployed a new target group
    assert await drift.sweep(["shop/a"], lambda _: False) == set()
    live["shop/a"] = "3"  # and then someone else changed it
    assert await drift.sweep(["shop/a"], lambda _: False) == {"shop/a"}


async def test_a_group_busy_or_deploying_during_the_sweep_is_left_for_the_next() -> None:
    live, changes = {"shop/a": "1"}, {"shop/a": 2}

    def fingerprints() -> dict[str, str]:
        changes["shop/a"] += 1  # a deploy began while the sweep read
        return dict(live)

    drift = DriftSweep(fingerprints, changes)
    await drift.sweep(["shop/a"], lambda _: False)
    live["shop/a"] = "2"
    assert await drift.sweep(["shop/a"], lambda _: False) == set()
    plain = sweep_of(live, {"shop/a": 2})
    await plain.sweep(["shop/a"], lambda _: False)
    live["shop/a"] = "3"
    assert await plain.sweep(["shop/a"], lambda _: True) == set()  # queued: not compared
    assert await plain.sweep(["shop/a"], lambda _: False) == {"shop/a"}


async def test_a_failed_sweep_reports_nothing_and_keeps_the_baselines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    live, changes = {"shop/a": "1"}, {"shop/a": 2}
    failing = {"now": False}

    def fingerprints() -> dict[str, str]:
        if failing["now"]:
            raise AwsError("tag lookup", "Throttling", "Rate exceeded", retryable=True)
        return dict(live)

    drift = DriftSweep(fingerprints, changes)
    await drift.sweep(["shop/a"], lambda _: False)
    failing["now"], live["shop/a"] = True, "2"
    assert await drift.sweep(["shop/a"], lambda _: False) == set()
    assert "drift sweep failed" in caplog.text
    failing["now"] = False
    assert await drift.sweep(["shop/a"], lambda _: False) == {"shop/a"}
