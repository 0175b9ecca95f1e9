"""Leader election on a coordination.k8s.io Lease, so two replicas run one active controller.

We use the `kubernetes` client's own elector (kubernetes.leaderelection with a LeaseLock)
instead of kopf peering: peering pauses a whole operator, watches included, so a standby
starts cold; here every replica keeps its watch cache warm and only the leader reconciles,
so a takeover costs one lease duration, not a full resync. The elector blocks, so it runs
in a daemon thread and reports through callbacks. Losing the lease stops the process (as
controller-runtime does): a stale leader must never keep writing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

logger = logging.getLogger(__name__)

LEASE_NAME = "alb-ingress-controller-leader"


def start_election(
    namespace: str,
    identity: str,
    *,
    on_started: Callable[[], None],
    on_lost: Callable[[], None],
    lease_seconds: int = 15,
    renew_seconds: int = 10,
    retry_seconds: int = 2,
) -> threading.Thread:
    """Run the election in a daemon thread; callbacks run in that thread."""
    lock = LeaseLock(LEASE_NAME, namespace, identity)  # type: ignore[no-untyped-call]

    def started() -> None:
        logger.info("%s acquired the leader lease %s/%s", identity, namespace, LEASE_NAME)
        on_started()

    def lost() -> None:
        logger.error("%s lost the leader lease; stopping", identity)
        on_lost()

    config = electionconfig.Config(  # type: ignore[no-untyped-call]
        lock, lease_seconds, renew_seconds, retry_seconds, started, lost
    )
    election = leaderelection.LeaderElection(config)  # type: ignore[no-untyped-call]
    thread = threading.Thread(target=election.run, name="leader-election", daemon=True)
    thread.start()
    return thread
