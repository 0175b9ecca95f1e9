"""The periodic drift check: one sweep of AWS for every group, a redeploy only where it moved.

A drift check that deploys every group reads each group's resources (15 reads a group in
`bench/`); LBC's full resync does the same. Here, every `RESYNC_SECONDS`, one account-wide
sweep (`Deployer.fingerprints`: the tagging API and the load balancers and target groups
listed, a few calls for the whole cluster) gives a digest per stack of its load balancers'
and target groups' ARNs, tags and settings. Each group's digest is compared with the one
the previous sweep saw; a group whose digest moved while no deploy or teardown of ours ran
(`GroupReconciler.changes`) was changed by someone else and is queued for a drift check
(`Mode.DRIFT`: read everything, repair). A group that deployed since has its baseline taken
again. Every `FULL_RESYNC_SECONDS` every group gets the drift check anyway, since listeners,
rules, security group rules, attributes and DNS records are not in the digest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from controller.aws import AwsError

logger = logging.getLogger(__name__)


@dataclass
class _Baseline:
    changes: int  # `GroupReconciler.changes` of the group when it was taken
    digest: str  # "" : nothing of the stack in AWS


@dataclass
class DriftSweep:
    """Compares each sweep's fingerprints with the previous one's, group by group."""

    fingerprints: Callable[[], Mapping[str, str]]  # stack id -> digest (`Deployer`)
    changes: Mapping[str, int]  # group id -> deploys/teardowns begun and ended (the reconciler's)
    _baselines: dict[str, _Baseline] = field(default_factory=dict)

    async def sweep(self, groups: Iterable[str], busy: Callable[[str], bool]) -> set[str]:
        """The groups changed in AWS by someone else since the last sweep. `busy(group)`:
        queued or running now (its resources may be moving under our own hand)."""
        before = {g: self.changes.get(g, 0) for g in groups if not busy(g)}
        try:
            live = await asyncio.to_thread(self.fingerprints)
        except AwsError as error:
            logger.warning("drift sweep failed (%s); the next one is in one period", error)
            return set()
        return self.compare(live, before)

    def compare(self, live: Mapping[str, str], before: Mapping[str, int]) -> set[str]:
        """`before`: each group's change count as the sweep began (groups busy then left out)."""
        drifted: set[str] = set()
        for group, count in before.items():
            if self.changes.get(group, 0) != count:
                continue  # deployed while we read: what we read may be half old
            digest = live.get(group, "")
            baseline = self._baselines.get(group)
            if baseline is not None and baseline.changes == count and baseline.digest != digest:
                drifted.add(group)
            self._baselines[group] = _Baseline(count, digest)
        for gone in set(self._baselines) - set(before):
            if gone not in live:
                self._baselines.pop(gone, None)  # no longer a group of ours, nothing left
        return drifted

    def reset(self) -> None:
        """After a full drift check of every group: take every baseline again."""
        self._baselines.clear()
