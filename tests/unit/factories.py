"""Builders for the model's tests: annotations, a cluster state, a plan.

The object builders themselves (`ingress`, `rule`, `path`, `backend`, `service`,
`ingress_class`) are `sandbox.objects`', shared with the kube tests, the e2e tests and the
benchmarks; they are re-exported here so a model test imports everything from one place.
"""

from __future__ import annotations

from typing import Any

from controller.config import ModelDefaults
from controller.model import ClusterState, GroupRef, GroupResult, Plan, build, build_group
from controller.model.annotations import PREFIX
from sandbox.objects import backend, ingress, ingress_class, path, rule, service

__all__ = [
    "DEFAULTS",
    "ann",
    "backend",
    "ingress",
    "ingress_class",
    "path",
    "plan",
    "rule",
    "service",
    "state",
]

DEFAULTS = ModelDefaults(cluster_name="test")


def ann(**values: str) -> dict[str, str]:
    """`ann(scheme="internal")` -> {"alb.ingress.kubernetes.io/scheme": "internal"}.

    Underscores in keyword names stand for hyphens; use a dict for dotted names.
    """
    return {PREFIX + key.replace("_", "-"): value for key, value in values.items()}


def state(*objects: dict[str, Any], with_class: bool = True) -> ClusterState:
    extra = [ingress_class()] if with_class else []
    return ClusterState.from_objects([*objects, *extra])


def plan(*objects: dict[str, Any], defaults: ModelDefaults = DEFAULTS) -> Plan:
    """Build with an `alb` IngressClass present."""
    return build(state(*objects), defaults)


def group(group_id: str, cluster: ClusterState, defaults: ModelDefaults = DEFAULTS) -> GroupResult:
    """`build_group` as the cache feeds it: every Ingress of the cluster is offered, and the
    builder keeps those `group_of` puts in the group (ids with a `/` are implicit groups)."""
    ref = GroupRef(id=group_id, explicit="/" not in group_id)
    return build_group(ref, cluster.ingresses, cluster, defaults)
