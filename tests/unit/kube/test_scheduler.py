"""The group scheduler: coalescing, one run per group at a time, modes, backoff."""

from __future__ import annotations

import asyncio
import itertools

from controller.kube.scheduler import GroupScheduler, Mode, Outcome


class Recorder:
    def __init__(self, hold: float = 0.0, fail_times: int = 0) -> None:
        self.calls: list[tuple[str, Mode]] = []
        self.times: list[tuple[str, float]] = []  # (group, loop time) of each run's start
        self.running: set[str] = set()
        self.most_at_once = 0
        self.overlaps = 0
        self.hold = hold
        self.fail_times = fail_times

    async def __call__(self, group: str, mode: Mode) -> Outcome:
        if group in self.running:
            self.overlaps += 1
        self.running.add(group)
        self.most_at_once = max(self.most_at_once, len(self.running))
        self.calls.append((group, mode))
        self.times.append((group, asyncio.get_running_loop().time()))
        await asyncio.sleep(self.hold)
        self.running.discard(group)
        if self.fail_times and group != "good":
            self.fail_times -= 1
            raise RuntimeError("boom")
        return Outcome()


async def test_a_burst_of_requests_becomes_one_run_at_the_strongest_mode() -> None:
    recorder = Recorder()
    scheduler = GroupScheduler(recorder, workers=2, debounce=0.05)
    scheduler.start()
    for _ in range(20):
        scheduler.request("g1", Mode.TARGETS)
    scheduler.request("g1", Mode.FULL)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert recorder.calls == [("g1", Mode.FULL)]


async def test_a_target_change_waits_for_no_debounce_a_model_change_does() -> None:
    """The rollout path: a target request runs at once, not after the debounce (an hour
    here) that a model change waits."""
    recorder = Recorder()
    scheduler = GroupScheduler(recorder, workers=1, debounce=3600.0)
    scheduler.start()
    scheduler.request("g1", Mode.TARGETS)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    scheduler.request("g2", Mode.FULL)
    await asyncio.sleep(0.05)
    await scheduler.stop()
    assert recorder.calls == [("g1", Mode.TARGETS)]  # g2 still waits its debounce


async def test_a_request_during_a_run_reruns_once_after_it_never_concurrently() -> None:
    recorder = Recorder(hold=0.1)
    scheduler = GroupScheduler(recorder, workers=3, debounce=0.0)
    scheduler.start()
    scheduler.request("g1", Mode.FULL)
    await asyncio.sleep(0.03)
    for _ in range(5):
        scheduler.request("g1", Mode.TARGETS)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert recorder.overlaps == 0
    assert recorder.calls == [("g1", Mode.FULL), ("g1", Mode.TARGETS)]


async def test_groups_run_in_parallel_on_separate_workers() -> None:
    recorder = Recorder(hold=0.2)
    scheduler = GroupScheduler(recorder, workers=4, debounce=0.0)
    scheduler.start()
    for group in ("a", "b", "c", "d"):
        scheduler.request(group, Mode.FULL)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert sorted(g for g, _ in recorder.calls) == ["a", "b", "c", "d"]
    assert recorder.most_at_once == 4  # at once, not one after another


async def test_a_failing_group_is_retried_with_backoff_and_others_go_on() -> None:
    recorder = Recorder(fail_times=3)
    # One worker: while "bad" waits out its backoff, the worker is free for "good".
    scheduler = GroupScheduler(recorder, workers=1, debounce=0.0, first_backoff=0.05)
    scheduler.start()
    scheduler.request("bad", Mode.FULL)
    await asyncio.sleep(0.01)
    scheduler.request("good", Mode.FULL)
    await asyncio.wait_for(scheduler.wait_idle(), 5)
    await scheduler.stop()
    order = [g for g, _ in recorder.times]
    assert order == ["bad", "good", "bad", "bad", "bad"], order
    bad = [t for g, t in recorder.times if g == "bad"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(bad)]
    # Doubling from the first backoff; a timer never fires early, so these lower bounds hold
    # however loaded the machine is.
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2, gaps


async def test_an_outcome_with_retry_after_runs_again_later() -> None:
    calls: list[str] = []

    async def reconcile(group: str, mode: Mode) -> Outcome:
        calls.append(group)
        return Outcome(retry_after=0.05) if len(calls) == 1 else Outcome()

    scheduler = GroupScheduler(reconcile, workers=1, debounce=0.0)
    scheduler.start()
    scheduler.request("g", Mode.FULL)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert calls == ["g", "g"]


async def test_a_retry_runs_in_the_mode_the_outcome_asks_for() -> None:
    calls: list[Mode] = []

    async def reconcile(group: str, mode: Mode) -> Outcome:
        calls.append(mode)
        if len(calls) == 1:  # a drift check that asks for a full reconcile at once
            return Outcome(retry_after=0.0, retry_mode=Mode.FULL)
        return Outcome()

    scheduler = GroupScheduler(reconcile, workers=1, debounce=0.0)
    scheduler.start()
    scheduler.request("g1", Mode.DRIFT)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert calls == [Mode.DRIFT, Mode.FULL]
