"""Small builders of Kubernetes objects (plain dicts, as the API returns them) for tests."""

from __future__ import annotations

from typing import Any

from controller.config import ModelDefaults
from controller.model import ClusterState, Plan, build
from controller.model.annotations import PREFIX

DEFAULTS = ModelDefaults(cluster_name="test")


def ann(**values: str) -> dict[str, str]:
    """`ann(scheme="internal")` -> {"alb.ingress.kubernetes.io/scheme": "internal"}.

    Underscores in keyword names stand for hyphens; use a dict for dotted names.
    """
    return {PREFIX + key.replace("_", "-"): value for key, value in values.items()}


def backend(service: str, port: int | str = 80) -> dict[str, Any]:
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def path(
    value: str | None, service: str = "svc", port: int | str = 80, path_type: str | None = "Prefix"
) -> dict[str, Any]:
    result: dict[str, Any] = {"backend": backend(service, port)}
    if value is not None:
        result["path"] = value
    if path_type is not None:
        result["pathType"] = path_type
    return result


def rule(host: str | None, *paths: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"http": {"paths": list(paths)}}
    if host is not None:
        result["host"] = host
    return result


def ingress(
    name: str = "app",
    namespace: str = "default",
    *,
    annotations: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    default_backend: dict[str, Any] | None = None,
    tls: list[dict[str, Any]] | None = None,
    class_name: str | None = "alb",
    deleted: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    if deleted:
        metadata["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    spec: dict[str, Any] = {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if rules is None and default_backend is None:
        rules = [rule("app.example.com", path("/"))]
    if rules is not None:
        spec["rules"] = rules
    if default_backend is not None:
        spec["defaultBackend"] = default_backend
    if tls is not None:
        spec["tls"] = tls
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": spec,
    }


def service(
    name: str = "svc",
    namespace: str = "default",
    *,
    ports: list[dict[str, Any]] | None = None,
    type_: str = "NodePort",
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    if ports is None:
        ports = [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"type": type_, "ports": ports},
    }


def ingress_class(
    name: str = "alb", controller: str = "ingress.k8s.aws/alb", *, default: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if default:
        metadata["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": metadata,
        "spec": {"controller": controller},
    }


def state(*objects: dict[str, Any], with_class: bool = True) -> ClusterState:
    extra = [ingress_class()] if with_class else []
    return ClusterState.from_objects([*objects, *extra])


def plan(*objects: dict[str, Any], defaults: ModelDefaults = DEFAULTS) -> Plan:
    """Build with an `alb` IngressClass present."""
    return build(state(*objects), defaults)
