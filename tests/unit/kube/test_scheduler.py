"""The group scheduler: coalescing, one run per group at a time, modes, backoff."""

from __future__ import annotations

import asyncio

from controller.kube.scheduler import GroupScheduler, Mode, Outcome


class Recorder:
    def __init__(self, hold: float = 0.0, fail_times: int = 0) -> None:
        self.calls: list[tuple[str, Mode]] = []
        self.running: set[str] = set()
        self.overlaps = 0
        self.hold = hold
        self.fail_times = fail_times

    async def __call__(self, group: str, mode: Mode) -> Outcome:
        if group in self.running:
            self.overlaps += 1
        self.running.add(group)
        self.calls.append((group, mode))
        await asyncio.sleep(self.hold)
        self.running.discard(group)
        if self.fail_times:
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
    loop = asyncio.get_running_loop()
    started = loop.time()
    for group in ("a", "b", "c", "d"):
        scheduler.request(group, Mode.FULL)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert sorted(g for g, _ in recorder.calls) == ["a", "b", "c", "d"]
    assert loop.time() - started < 0.6  # four 0.2 s runs at once, not one after another


async def test_a_failing_group_is_retried_with_backoff_and_others_go_on() -> None:
    recorder = Recorder(fail_times=1)
    scheduler = GroupScheduler(recorder, workers=1, debounce=0.0, max_backoff=0.05)
    scheduler.start()
    scheduler.request("bad", Mode.FULL)
    await asyncio.wait_for(scheduler.wait_idle(), 2)
    await scheduler.stop()
    assert recorder.calls == [("bad", Mode.FULL), ("bad", Mode.FULL)]


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
