"""A finalizer edit that meets a newer copy of its Ingress is tried again, quietly.

Found by the soak (`sandbox.soak`, seed 12): two groups' reconciles edited the finalizers of
one Ingress moving between them; one JSON patch's `test` failed (422), the exception went
up to the scheduler, which logged a Traceback and retried. A stale copy is expected there:
the reconcile now asks to run again in a second, by which time the watch has the new copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.config import ModelDefaults
from controller.kube.reconciler import STALE_RETRY, GroupReconciler
from controller.kube.scheduler import Mode
from controller.kube.writer import StaleCopyError

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")


class RacingCluster(FakeCluster):
    """The first finalizer removal meets a copy someone else has changed."""

    raced = False

    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        if not self.raced:
            self.raced = True
            raise StaleCopyError("Ingress shop/web changed since resourceVersion 3")
        super().remove_finalizer(ingress, finalizer)


def test_a_stale_copy_is_retried_soon_without_an_error() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = RacingCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile("shop/web", Mode.FULL)
    cluster.delete("shop/web")

    assert reconciler.reconcile("shop/web", Mode.FULL).retry_after == STALE_RETRY
    assert [r for _, _, r, _ in cluster.events if r.startswith("Failed")] == []
    assert reconciler.reconcile("shop/web", Mode.FULL).retry_after is None
    assert cache.ingress("shop/web") is None  # released, and gone
