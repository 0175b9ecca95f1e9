"""What the end-to-end tests drive: a cluster, the controller process, and AWS read-outs.

Two targets, one suite:
- the local sandbox (default): the session's real control plane (etcd, kube-apiserver,
  kube-controller-manager, kube-scheduler, kwok) with moto as a child process, and
  `alb-ingress-controller run` as a subprocess per test, as the shipped ServiceAccount
  (`sandbox.controller_process.ControllerProcess`);
- a real cluster when `E2E_KUBECONFIG` is set (see `scripts/kind-e2e.sh`): the controller
  is the Deployment from `deploy/manifests` (started and stopped by scaling it, killed by
  deleting its Pod with no grace period) and AWS is `E2E_AWS_ENDPOINT_URL` (e.g. moto in
  the cluster, port-forwarded) or the ambient credentials. `E2E_CLUSTER_NAME` must match
  the controller's CLUSTER_NAME, `E2E_DEFAULT_TARGET_TYPE` its DEFAULT_TARGET_TYPE.
Every test cleans up what it made and ends with `Scenario.finish()`: delete the Ingresses,
wait until they are gone (their finalizers released), and scan AWS for anything still
tagged for the cluster or DNS records it still owns.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from kubernetes import client, utils

from sandbox import objects
from sandbox.aws import aws_client, leaks
from sandbox.waiting import wait_until as _wait_until

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
CONTROLLER_NAMESPACE = "alb-ingress-controller"
CONTROLLER_NAME = "alb-ingress-controller"
TIMEOUT = 30.0


def wait_until(
    check: Callable[[], T | Literal[False] | None], what: str, timeout: float = TIMEOUT
) -> T:
    """`sandbox.waiting.wait_until` with the e2e defaults: 30 s, and an API error or a failed
    assertion inside `check` counts as "not yet" (it is named if the wait times out)."""
    return _wait_until(check, what, timeout, retry_on=(client.ApiException, AssertionError))


class Controller(Protocol):
    """The controller under test: a local process (`ControllerProcess`) or a Deployment."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kill(self) -> None: ...
    def logs(self) -> str: ...


@dataclass
class DeploymentController:
    """The controller Deployment of a real cluster (deploy/manifests)."""

    api: client.ApiClient

    def _scale(self, replicas: int) -> None:
        client.AppsV1Api(self.api).patch_namespaced_deployment_scale(
            CONTROLLER_NAME, CONTROLLER_NAMESPACE, {"spec": {"replicas": replicas}}
        )

    def _pods(self) -> list[Any]:
        return list(
            client.CoreV1Api(self.api)
            .list_namespaced_pod(
                CONTROLLER_NAMESPACE, label_selector=f"app.kubernetes.io/name={CONTROLLER_NAME}"
            )
            .items
        )

    def start(self) -> None:
        self._scale(1)
        wait_until(
            lambda: any(c.ready for p in self._pods() for c in (p.status.container_statuses or ())),
            "the controller pod to be ready",
            timeout=120,
        )

    def stop(self) -> None:
        self._scale(0)
        wait_until(lambda: not self._pods(), "the controller pods to go", timeout=120)

    def kill(self) -> None:
        core = client.CoreV1Api(self.api)
        for pod in self._pods():
            core.delete_namespaced_pod(
                pod.metadata.name, CONTROLLER_NAMESPACE, grace_period_seconds=0
            )
        self._scale(0)
        wait_until(lambda: not self._pods(), "the controller pods to go", timeout=120)

    def logs(self) -> str:
        core = client.CoreV1Api(self.api)
        return "\n".join(
            core.read_namespaced_pod_log(p.metadata.name, CONTROLLER_NAMESPACE)
            for p in self._pods()
        )


@dataclass
class Target:
    """The cluster and AWS account under test."""

    api: client.ApiClient
    cluster_name: str
    aws_endpoint_url: str | None
    make_controller: Callable[[Path], Controller]
    sandbox: Any = None  # the local Sandbox (None against a real cluster)
    # The local controller's environment (the sandbox's), empty against a real cluster.
    controller_env: dict[str, str] = field(default_factory=dict)
    # The controller's DEFAULT_TARGET_TYPE (kind nodes are not EC2 instances: ip there).
    default_target_type: str = "instance"

    def aws(self, service: str) -> Any:
        return aws_client(service, self.aws_endpoint_url)


@dataclass
class Scenario:
    """One test's view: unique namespaces, the objects it made, and the final leak scan."""

    target: Target
    controller: Controller
    ingresses: set[tuple[str, str]] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    # Kubernetes ------------------------------------------------------------------------

    # Typed as Any: the client's models make every field Optional.
    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.target.api)

    @property
    def net(self) -> Any:
        return client.NetworkingV1Api(self.target.api)

    @property
    def apps(self) -> Any:
        return client.AppsV1Api(self.target.api)

    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{self.suffix}"
        self.core.create_namespace({"metadata": {"name": name}})
        self.namespaces.add(name)
        return name

    def create(self, objects: Iterable[dict[str, Any]]) -> None:
        for obj in objects:
            kind, meta = obj["kind"], obj["metadata"]
            if kind == "Namespace":
                self.namespaces.add(meta["name"])
            if kind == "Ingress":
                self.ingresses.add((meta["namespace"], meta["name"]))
            utils.create_from_dict(self.target.api, obj)  # type: ignore[no-untyped-call]

    def app(
        self, namespace: str, name: str, replicas: int = 2, service_type: str = "NodePort"
    ) -> None:
        """A Deployment and its Service on port 80."""
        self.create(
            [
                objects.deployment(name, namespace, replicas),
                objects.app_service(name, namespace, type_=service_type),
            ]
        )

    def ingress(
        self,
        namespace: str,
        name: str,
        rules: list[tuple[str, str, str]],
        annotations: dict[str, str] | None = None,
    ) -> None:
        """An Ingress of class alb with (host, path, service) rules on port 80."""
        self.create([ingress_body(namespace, name, rules, annotations)])

    def read_ingress(self, namespace: str, name: str) -> Any:
        return self.net.read_namespaced_ingress(name, namespace)

    def hostname(self, namespace: str, name: str, timeout: float = 30.0) -> str:
        """Wait for the Ingress's status hostname."""

        def check() -> str | None:
            status = self.read_ingress(namespace, name).status
            lbs = (status and status.load_balancer and status.load_balancer.ingress) or []
            return lbs[0].hostname if lbs else None

        return wait_until(check, f"a hostname on Ingress {namespace}/{name}", timeout)

    def events(self, namespace: str, name: str) -> list[Any]:
        return [
            e
            for e in self.core.list_namespaced_event(namespace).items
            if e.involved_object.kind == "Ingress" and e.involved_object.name == name
        ]

    # AWS -------------------------------------------------------------------------------

    def aws(self, service: str) -> Any:
        return self.target.aws(service)

    def load_balancer(self, dns_name: str) -> dict[str, Any]:
        lbs = [
            lb
            for page in self.aws("elbv2").get_paginator("describe_load_balancers").paginate()
            for lb in page["LoadBalancers"]
            if lb["DNSName"] == dns_name
        ]
        assert len(lbs) == 1, f"{len(lbs)} load balancers named {dns_name}"
        found: dict[str, Any] = lbs[0]
        return found

    def stack_resources(self, stack: str) -> list[str]:
        """ARNs tagged for the cluster and this stack (group name or ns/name)."""
        return [
            m["ResourceARN"]
            for page in self.aws("resourcegroupstaggingapi")
            .get_paginator("get_resources")
            .paginate(
                TagFilters=[
                    {"Key": "elbv2.k8s.aws/cluster", "Values": [self.target.cluster_name]},
                    {"Key": "ingress.k8s.aws/stack", "Values": [stack]},
                ]
            )
            for m in page["ResourceTagMappingList"]
        ]

    def lb_view(self, dns_name: str) -> LbView:
        return LbView.read(self.aws("elbv2"), self.load_balancer(dns_name))

    def records(self, host: str) -> dict[str, dict[str, Any]]:
        """Route 53 records named `host` or `_alb-*.host`, by type, across all zones."""
        route53 = self.aws("route53")
        found: dict[str, dict[str, Any]] = {}
        for zone in route53.list_hosted_zones()["HostedZones"]:
            for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])[
                "ResourceRecordSets"
            ]:
                name = r["Name"].rstrip(".")
                if name == host or (name.startswith("_alb-") and name.split(".", 1)[1] == host):
                    private = zone.get("Config", {}).get("PrivateZone", False)
                    found[f"{'private' if private else 'public'}:{r['Type']}"] = r
        return found

    # The end -------------------------------------------------------------------------------

    def delete_ingresses(self, timeout: float = 60.0) -> None:
        for namespace, name in sorted(self.ingresses):
            try:
                self.net.delete_namespaced_ingress(name, namespace)
            except client.ApiException as error:
                if error.status != 404:
                    raise
        for namespace, name in sorted(self.ingresses):
            wait_until(
                functools.partial(self._gone, namespace, name),
                f"Ingress {namespace}/{name} to be deleted (finalizer released)",
                timeout,
            )
        self.ingresses.clear()

    def _gone(self, namespace: str, name: str) -> bool:
        try:
            self.read_ingress(namespace, name)
        except client.ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    def leaks(self) -> list[str]:
        return leaks(self.target.aws_endpoint_url, self.target.cluster_name)

    def finish(self, timeout: float = 60.0) -> None:
        """Delete every Ingress; once they are gone nothing may remain in AWS for the cluster
        (checked at once: the finalizer must only go after the teardown is complete)."""
        self.delete_ingresses(timeout)
        assert self.leaks() == []

    def cleanup(self) -> None:
        """Best effort after a failed test, so the next one starts clean."""
        try:
            self.delete_ingresses(timeout=30)
        finally:
            for namespace in self.namespaces:
                try:
                    self.core.delete_namespace(namespace)
                except client.ApiException as error:
                    if error.status != 404:
                        raise


def ingress_body(
    namespace: str,
    name: str,
    rules: list[tuple[str, str, str]],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`sandbox.objects.ingress` from (host, path, service) rules, each a Prefix path to port
    80 of the service."""
    return objects.ingress(
        name,
        namespace,
        annotations=annotations or {},
        rules=[objects.rule(host, objects.path(path, svc)) for host, path, svc in rules],
    )


@dataclass(frozen=True)
class LbView:
    """A load balancer and everything under it, as AWS describes it."""

    lb: dict[str, Any]
    listeners: list[dict[str, Any]]
    rules: list[dict[str, Any]]  # non-default rules of every listener
    target_groups: list[dict[str, Any]]
    targets: dict[str, list[dict[str, Any]]]  # by target group name

    @classmethod
    def read(cls, elbv2: Any, lb: dict[str, Any]) -> LbView:
        arn = lb["LoadBalancerArn"]
        listeners = elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
        rules = [
            r
            for li in listeners
            for r in elbv2.describe_rules(ListenerArn=li["ListenerArn"])["Rules"]
            if not r["IsDefault"]
        ]
        try:
            tgs = elbv2.describe_target_groups(LoadBalancerArn=arn)["TargetGroups"]
        except elbv2.exceptions.TargetGroupNotFoundException:
            tgs = []  # moto's answer for a load balancer without any (AWS's is empty)
        targets = {
            tg["TargetGroupName"]: elbv2.describe_target_health(
                TargetGroupArn=tg["TargetGroupArn"]
            )["TargetHealthDescriptions"]
            for tg in tgs
        }
        return cls(lb, listeners, rules, tgs, targets)

    def conditions(self) -> list[dict[str, list[str]]]:
        """Each rule's conditions as {field: values}, in priority order."""
        ordered = sorted(self.rules, key=lambda r: int(r["Priority"]))
        return [
            {c["Field"]: sorted(_condition_values(c)) for c in r["Conditions"]} for r in ordered
        ]

    def target_ids(self) -> dict[str, set[tuple[str, int]]]:
        return {
            name: {(t["Target"]["Id"], t["Target"]["Port"]) for t in health}
            for name, health in self.targets.items()
        }


def _condition_values(condition: dict[str, Any]) -> list[str]:
    for key in ("HostHeaderConfig", "PathPatternConfig"):
        if key in condition:
            return list(condition[key]["Values"])
    return list(condition.get("Values") or ())
