"""One reconcile per group at a time, with bursts of events coalesced into one run.

kopf calls a handler per object event; an IngressGroup is many objects, and an
EndpointSlice can change many times a second during a rollout. This scheduler turns
"something about group G changed" into at most one queued and one running reconcile of G,
at the strongest mode asked for (targets < full < drift check). A model change waits a short
debounce (an edit is often several writes); a target change waits for nothing, since it is
the hot path of a rollout: events that come while the group's run is queued or in flight are
coalesced into the next run, which is all the batching it needs.
Failures come back with exponential backoff per group, so one broken group never slows the
others (each worker takes whichever group is due next).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class Mode(enum.IntEnum):
    """How much a reconcile does; a stronger request absorbs a weaker one."""

    TARGETS = 1  # only register/deregister targets
    FULL = 2  # rebuild the model; deploy if it differs from what was applied
    DRIFT = 3  # deploy even if the model is unchanged, repairing changes made in AWS


@dataclass(frozen=True)
class Outcome:
    """What a reconcile asks of the scheduler: nothing, or to run again after a delay (in
    `retry_mode`, else in the same mode)."""

    retry_after: float | None = None
    retry_mode: Mode | None = None


Reconcile = Callable[[str, Mode], Awaitable[Outcome]]


class GroupScheduler:
    """Queues groups and runs `reconcile(group, mode)` on a few workers."""

    def __init__(
        self,
        reconcile: Reconcile,
        workers: int = 4,
        debounce: float = 0.2,
        max_backoff: float = 300.0,
        first_backoff: float = 1.0,
    ) -> None:
        self._reconcile = reconcile
        self._workers = workers
        self._debounce = debounce
        self._max_backoff = max_backoff
        self._first_backoff = first_backoff
        self._pending: dict[str, Mode] = {}
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._failures: dict[str, int] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()

    def request(self, group: str, mode: Mode, delay: float | None = None) -> None:
        """Ask for `group` to be reconciled at least at `mode`, after `delay` seconds."""
        self._pending[group] = max(self._pending.get(group, mode), mode)
        self._idle.clear()
        if group in self._running or group in self._queued:
            return  # the pending mode is picked up when the current run ends
        debounce = 0.0 if mode is Mode.TARGETS else self._debounce
        wait = debounce if delay is None else delay
        timer = self._timers.get(group)
        loop = asyncio.get_running_loop()
        if timer is not None:
            if timer.when() <= loop.time() + wait:
                return
            timer.cancel()
        self._timers[group] = loop.call_later(wait, self._enqueue, group)

    def busy(self, group: str) -> bool:
        """Whether `group` has a reconcile waiting, queued or running."""
        return (
            group in self._pending
            or group in self._queued
            or group in self._running
            or group in self._timers
        )

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for timer in self._timers.values():
            timer.cancel()

    async def wait_idle(self) -> None:
        """Wait until nothing is pending, queued or running (for tests and benchmarks)."""
        await self._idle.wait()

    def _enqueue(self, group: str) -> None:
        self._timers.pop(group, None)
        if group in self._running or group in self._queued or group not in self._pending:
            return
        self._queued.add(group)
        self._ready.put_nowait(group)

    async def _work(self) -> None:
        while True:
            group = await self._ready.get()
            self._queued.discard(group)
            mode = self._pending.pop(group, None)
            if mode is None:
                continue
            self._running.add(group)
            outcome = await self._run_one(group, mode)
            self._running.discard(group)
            if outcome.retry_after is not None:
                self.request(group, outcome.retry_mode or mode, delay=outcome.retry_after)
            elif group in self._pending:
                self._enqueue(group)
            self._update_idle()

    async def _run_one(self, group: str, mode: Mode) -> Outcome:
        try:
            outcome = await self._reconcile(group, mode)
        except Exception:
            failures = self._failures.get(group, 0) + 1
            self._failures[group] = failures
            delay = min(self._max_backoff, self._first_backoff * 2.0 ** (failures - 1))
            logger.exception("reconcile of group %s failed; retrying in %.0fs", group, delay)
            return Outcome(retry_after=delay)
        self._failures.pop(group, None)
        return outcome

    def _update_idle(self) -> None:
        if not self._pending and not self._running and not self._queued:
            self._idle.set()
