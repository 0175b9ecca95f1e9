"""The Kubernetes objects the scenarios create, and creating them through the API.

A fleet is IngressGroups of `group_size` members (one ALB each, under the 100-rule limit)
plus lone Ingresses (one ALB each); every Ingress has its own host under example.com (so the
controller writes a Route 53 alias record for it), its own Service and its own Deployment.
They are created as the cluster admin on a few threads (`bench.kube.create_all`: Namespaces
first), so "the objects exist" is the instant the last create call returned. The bodies are
`sandbox.objects`', as the tests' are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.kube import Obj, create_all
from sandbox import objects

VERSION_ANNOTATION = "bench/version"  # on the Pod template: changing it rolls the Deployment

DOMAIN = "example.com"
GROUP_ANNOTATION = "alb.ingress.kubernetes.io/group.name"


@dataclass(frozen=True)
class App:
    """One Ingress with its Service and Deployment."""

    namespace: str
    name: str
    host: str
    group: str | None  # IngressGroup name; None: a lone Ingress (implicit group)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Fleet:
    """What a scale scenario creates: `groups` groups of `group_size`, plus `lone`."""

    prefix: str
    groups: int
    group_size: int
    lone: int

    @property
    def ingresses(self) -> int:
        return self.groups * self.group_size + self.lone

    @property
    def load_balancers(self) -> int:
        return self.groups + self.lone

    @property
    def namespace(self) -> str:
        return self.prefix

    def apps(self) -> list[App]:
        apps = []
        for g in range(self.groups):
            group = f"{self.prefix}-g{g:02d}"
            for m in range(self.group_size):
                name = f"g{g:02d}-m{m:02d}"
                apps.append(App(self.namespace, name, f"{self.prefix}-{name}.{DOMAIN}", group))
        for n in range(self.lone):
            name = f"lone-{n:03d}"
            apps.append(App(self.namespace, name, f"{self.prefix}-{name}.{DOMAIN}", None))
        return apps

    def group_ids(self) -> set[str]:
        """The controller's group ids: the group.name, or namespace/name for a lone one."""
        return {a.group if a.group else a.key for a in self.apps()}


def fleet_of(prefix: str, ingresses: int, group_size: int = 20) -> Fleet:
    """`ingresses` split as the issue's 1,000: 90% in groups of `group_size`, the rest lone."""
    groups = (ingresses * 9 // 10) // group_size
    return Fleet(prefix, groups, group_size, ingresses - groups * group_size)


def deployment(namespace: str, name: str, replicas: int, version: str = "1") -> Obj:
    """`sandbox.objects.deployment` with the version annotation on its Pod template."""
    return objects.deployment(
        name, namespace, replicas, template_annotations={VERSION_ANNOTATION: version}
    )


def ingress(app: App, target_type: str = "instance") -> Obj:
    """The app's internet-facing Ingress: its host, `/` -> its Service port 80."""
    annotations = {
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/target-type": target_type,
    }
    if app.group is not None:
        annotations[GROUP_ANNOTATION] = app.group
    return objects.ingress(
        app.name,
        app.namespace,
        annotations=annotations,
        rules=[objects.rule(app.host, objects.path("/", app.name))],
    )


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def create_workloads(api: Any, apps: list[App], replicas: int, service_type: str) -> None:
    """Namespaces, Deployments and Services for `apps` (not their Ingresses)."""
    made = [namespace(ns) for ns in sorted({a.namespace for a in apps})]
    for app in apps:
        made.append(deployment(app.namespace, app.name, replicas))
        made.append(objects.app_service(app.name, app.namespace, type_=service_type))
    create_all(api, made)


def create_ingresses(api: Any, apps: list[App], target_type: str = "instance") -> None:
    create_all(api, [ingress(app, target_type) for app in apps])
