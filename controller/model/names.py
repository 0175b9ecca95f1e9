"""AWS names for the resources of a stack: short, valid, and the same for the same input.

The names are aws-load-balancer-controller's, formula and inputs alike
(`k8s-<ns8>-<name8>-<hash10>`, at most 32 characters, the hash a sha256 over the inputs
that identify the resource), so a resource keeps its name across reconciles, gets a new one
exactly when it must be replaced (a scheme change replaces the ALB; a target type or
protocol change the target group), and is named as LBC would have named it. A target
group's hash takes the Service's UID, which a manifest given to `plan` may lack (then "").
"""

from __future__ import annotations

import hashlib
import re

_INVALID = re.compile(r"[^a-z0-9]")


def _clean(text: str) -> str:
    return _INVALID.sub("", text.lower())


def _digest(*parts: str) -> str:
    # Parts are concatenated, as LBC writes them into one sha256 one after another: for the
    # same cluster, group and scheme an ALB (and its security group) gets LBC's exact name,
    # so an adopted ALB is never seen as renamed.
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _stack_prefix(stack_id: str, explicit: bool) -> str:
    if explicit:
        return f"k8s-{_clean(stack_id)[:17]}"
    namespace, _, name = stack_id.partition("/")
    return f"k8s-{_clean(namespace)[:8]}-{_clean(name)[:8]}"


def load_balancer_name(cluster: str, stack_id: str, explicit: bool, scheme: str) -> str:
    """`k8s-<ns8>-<name8>-<hash10>`, or `k8s-<group17>-<hash10>` for an explicit group."""
    return f"{_stack_prefix(stack_id, explicit)}-{_digest(cluster, stack_id, scheme)[:10]}"


def security_group_name(cluster: str, stack_id: str, explicit: bool) -> str:
    """The managed frontend security group: the ALB's shape, hashed without the scheme."""
    return f"{_stack_prefix(stack_id, explicit)}-{_digest(cluster, stack_id)[:10]}"


def target_group_name(
    *,
    cluster: str,
    stack_id: str,
    ingress: str,
    service: str,
    service_uid: str,
    service_port: int | str,
    target_group_port: int,
    target_type: str,
    protocol: str,
    protocol_version: str,
    target_control_port: int | None = None,
) -> str:
    """`k8s-<ns8>-<svc8>-<hash10>`; `ingress` and `service` are `ns/name`, `service_port` the
    backend port as the Ingress writes it (number or name), `target_group_port` the target
    group's own port (the NodePort for instance targets, the target port for ip). A target
    control port is hashed last, and only when set (as LBC does), so it changes the name of
    a target group that must be replaced for it and of no other."""
    namespace, _, service_name = service.partition("/")
    ingress_namespace, _, ingress_name = ingress.partition("/")
    digest = _digest(
        cluster,
        stack_id,
        ingress_namespace,
        ingress_name,
        service_uid,
        str(service_port),
        str(target_group_port),
        target_type,
        protocol,
        protocol_version,
        "" if target_control_port is None else str(target_control_port),
    )
    return f"k8s-{_clean(namespace)[:8]}-{_clean(service_name)[:8]}-{digest[:10]}"
