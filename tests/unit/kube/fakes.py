"""Fakes for the kube layer's tests: a cluster the writer edits, and a recording deployer."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.aws import DeployResult, DeployWarning
from controller.config import ModelDefaults
from controller.kube.cache import ClusterCache, object_key
from controller.model.stack import DesiredTargets, Stack, Target
from sandbox import objects

INGRESS_CLASS = objects.ingress_class()


def ingress(
    name: str = "web",
    *,
    namespace: str = "shop",
    host: str = "shop.example.com",
    service: str = "web",
    annotations: Mapping[str, str] | None = None,
    class_name: str = "alb",
) -> dict[str, Any]:
    """`sandbox.objects.ingress` as the API server returns it (uid, resourceVersion 1), with
    these tests' defaults: `shop/web`, one host, `/` -> Service `web`:80."""
    return objects.ingress(
        name,
        namespace,
        annotations=annotations or {},
        rules=[objects.rule(host, objects.path("/", service))],
        class_name=class_name,
        metadata={"uid": f"uid-{namespace}-{name}", "resourceVersion": "1"},
    )


def service(name: str = "web", namespace: str = "shop", node_port: int = 30080) -> dict[str, Any]:
    """`sandbox.objects.app_service` with a uid and a fixed node port."""
    return objects.app_service(
        name,
        namespace,
        ports=[objects.tcp_port(node_port=node_port)],
        metadata={"uid": f"uid-svc-{name}"},
    )


def node(name: str, instance: str, ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {}},
        "spec": {"providerID": f"aws:///us-east-1a/{instance}"},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def cluster_cache(defaults: ModelDefaults) -> ClusterCache:
    """A cache holding what a one-Ingress test needs besides the Ingress: the `alb`
    IngressClass, the `shop/web` Service and one ready Node."""
    cache = ClusterCache(defaults)
    cache.apply_event("IngressClass", None, INGRESS_CLASS)
    cache.apply_event("Service", None, service())
    cache.apply_event("Node", None, node("n1", "i-0000000000000001"))
    return cache


@dataclass
class FakeCluster:
    """Ingresses the writer edits; each edit is echoed into the cache like a watch event."""

    cache: ClusterCache
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)

    def _edit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        current = self.cache.ingress(object_key(body))
        assert current is not None, f"write to an Ingress that is gone: {object_key(body)}"
        edited = copy.deepcopy(dict(current))
        edited["metadata"]["resourceVersion"] = str(int(edited["metadata"]["resourceVersion"]) + 1)
        return edited

    def _store(self, edited: dict[str, Any]) -> None:
        meta = edited["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.cache.apply_event("Ingress", "DELETED", edited)
        else:
            self.cache.apply_event("Ingress", "MODIFIED", edited)

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        edited = self._edit(ingress)
        finalizers = edited["metadata"].setdefault("finalizers", [])
        if finalizer not in finalizers:
            finalizers.append(finalizer)
            self.writes.append(("add_finalizer", object_key(ingress)))
            self._store(edited)

    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        edited = self._edit(ingress)
        finalizers = edited["metadata"].get("finalizers") or []
        if finalizer in finalizers:
            finalizers.remove(finalizer)
            self.writes.append(("remove_finalizer", object_key(ingress)))
            self._store(edited)

    def set_hostname(self, ingress: Mapping[str, Any], hostname: str | None) -> None:
        edited = self._edit(ingress)
        entries = [{"hostname": hostname}] if hostname else []
        edited["status"] = {"loadBalancer": {"ingress": entries}}
        self.writes.append(("set_hostname", object_key(ingress)))
        self._store(edited)

    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None:
        edited = self._edit(ingress)
        current = edited["metadata"].setdefault("annotations", {})
        for key, value in annotations.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self.writes.append(("set_annotations", object_key(ingress)))
        self._store(edited)

    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((object_key(ingress), type_, reason, message))

    def release_custom_object(
        self, resource: tuple[str, str, str], body: Mapping[str, Any], finalizer: str
    ) -> None:
        """Only recorded: the fake cluster holds no custom objects."""
        self.writes.append(("release_custom_object", object_key(body)))

    def delete(self, key: str) -> None:
        """`kubectl delete`: with finalizers the object stays, marked for deletion."""
        current = self.cache.ingress(key)
        assert current is not None
        edited = copy.deepcopy(dict(current))
        edited["metadata"]["deletionTimestamp"] = "2026-11-27T12:00:00Z"
        self._store(edited)


@dataclass
class FakeDeployer:
    deployed: list[Stack] = field(default_factory=list)
    target_syncs: list[DesiredTargets] = field(default_factory=list)
    # Per target sync: the target groups it was asked to touch, and what it was told they hold.
    synced_groups: list[tuple[dict[str, str], Mapping[str, frozenset[Target]] | None]] = field(
        default_factory=list
    )
    torn_down: list[str] = field(default_factory=list)
    fail_with: Exception | None = None
    warnings: tuple[DeployWarning, ...] = ()
    complete: bool = True

    def deploy(self, stack: Stack, targets: DesiredTargets) -> DeployResult:
        if self.fail_with is not None:
            raise self.fail_with
        self.deployed.append(stack)
        return DeployResult(
            dns_name=f"{stack.load_balancer.name}-123.us-east-1.elb.amazonaws.com",
            canonical_hosted_zone_id="Z35SXDOTRQ7X7K",
            load_balancer_arn=f"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/{stack.load_balancer.name}/1",
            target_group_arns={tg.id: f"arn:tg/{tg.name}" for tg in stack.target_groups},
            warnings=self.warnings,
            complete=self.complete,
        )

    def sync_targets(
        self,
        target_group_arns: Mapping[str, str],
        targets: DesiredTargets,
        known: Mapping[str, frozenset[Target]] | None = None,
    ) -> int:
        self.target_syncs.append(targets)
        self.synced_groups.append((dict(target_group_arns), known))
        return len(targets)

    def teardown(self, stack_id: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.torn_down.append(stack_id)
