"""Watch events in, group requests out: only the groups an object touches, at the least mode."""

from __future__ import annotations

import asyncio
import copy

from controller.config import Settings
from controller.kube.operator import Runtime
from controller.kube.scheduler import Mode

from .fakes import INGRESS_CLASS, FakeCluster, FakeDeployer, ingress, node, service


def make_runtime() -> Runtime:
    settings = Settings(cluster_name="test")
    runtime = Runtime.create(settings, writer=None, deployer=FakeDeployer())  # type: ignore[arg-type]
    runtime.reconciler.writer = FakeCluster(runtime.cache)
    return runtime


def pending(runtime: Runtime) -> dict[str, Mode]:
    return dict(runtime.scheduler._pending)


async def test_an_ingress_event_requests_its_group_in_full() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress())
    assert pending(runtime) == {"shop/web": Mode.FULL}


async def test_our_own_status_and_annotation_writes_do_not_requeue() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    body = ingress()
    runtime.observe("Ingress", None, body)
    runtime.scheduler._pending.clear()
    echoed = copy.deepcopy(body)
    echoed["status"] = {"loadBalancer": {"ingress": [{"hostname": "x.elb.amazonaws.com"}]}}
    echoed["metadata"]["annotations"]["alb-ingress-controller/applied"] = "{}"
    runtime.observe("Ingress", "MODIFIED", echoed)
    assert pending(runtime) == {}


async def test_an_endpointslice_change_requests_targets_only_for_groups_using_it() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress("a", service="web"))
    runtime.observe("Ingress", None, ingress("b", service="other", host="b.example.com"))
    runtime.scheduler._pending.clear()
    slice_ = {
        "metadata": {
            "name": "web-abc",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"port": 80}],
    }
    runtime.observe("EndpointSlice", "ADDED", slice_)
    assert pending(runtime) == {"shop/a": Mode.TARGETS}


async def test_a_service_change_rebuilds_groups_using_it() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress("a", service="web"))
    runtime.scheduler._pending.clear()
    runtime.observe("Service", "MODIFIED", service("web"))
    runtime.observe("Service", "MODIFIED", service("unrelated"))
    assert pending(runtime) == {"shop/a": Mode.FULL}


async def test_a_node_heartbeat_is_ignored_but_readiness_is_not() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress())
    runtime.observe("Node", None, node("n1", "i-1"))
    runtime.scheduler._pending.clear()
    heartbeat = node("n1", "i-1")
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-11-27T12:00:10Z"
    heartbeat["metadata"]["resourceVersion"] = "99"
    runtime.observe("Node", "MODIFIED", heartbeat)
    assert pending(runtime) == {}
    runtime.observe("Node", "MODIFIED", node("n1", "i-1", ready=False))
    assert pending(runtime) == {"shop/web": Mode.TARGETS}


async def test_leaving_a_group_requests_both_the_old_and_the_new_group() -> None:
    runtime = make_runtime()
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    body = ingress(annotations={"alb.ingress.kubernetes.io/group.name": "one"})
    body["metadata"]["finalizers"] = ["group.ingress.k8s.aws/one"]
    runtime.observe("Ingress", None, body)
    runtime.scheduler._pending.clear()
    moved = copy.deepcopy(body)
    moved["metadata"]["annotations"]["alb.ingress.kubernetes.io/group.name"] = "two"
    runtime.observe("Ingress", "MODIFIED", moved)
    assert pending(runtime) == {"one": Mode.FULL, "two": Mode.FULL}


async def test_the_periodic_resync_asks_every_group_for_a_drift_check() -> None:
    runtime = make_runtime()
    runtime.settings.resync_seconds = 0.05
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress("a"))
    runtime.observe("Ingress", None, ingress("b", host="b.example.com"))
    runtime.scheduler._pending.clear()
    task = asyncio.create_task(runtime.resync_forever())
    await asyncio.sleep(0.08)
    task.cancel()
    assert pending(runtime) == {"shop/a": Mode.DRIFT, "shop/b": Mode.DRIFT}


async def test_the_periodic_sweep_asks_only_the_groups_changed_in_aws() -> None:
    live = {"shop/a": "1", "shop/b": "1"}
    runtime = Runtime.create(
        Settings(cluster_name="test"),
        writer=None,  # type: ignore[arg-type]
        deployer=FakeDeployer(),
        fingerprints=lambda: dict(live),
    )
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress("a"))
    runtime.observe("Ingress", None, ingress("b", host="b.example.com"))
    runtime.scheduler._pending.clear()
    for timer in runtime.scheduler._timers.values():
        timer.cancel()
    runtime.scheduler._timers.clear()
    assert await runtime.resync(full=False) == set()  # the first sweep takes baselines
    live["shop/b"] = "2"
    assert await runtime.resync(full=False) == {"shop/b"}
    assert pending(runtime) == {"shop/b": Mode.DRIFT}
    runtime.scheduler._pending.clear()
    # The full pass checks every group, whatever the sweep would say.
    assert await runtime.resync(full=True) == {"shop/a", "shop/b"}
