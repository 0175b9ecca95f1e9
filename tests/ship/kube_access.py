"""What the controller does in the Kubernetes API, derived from its requests, and RBAC's verdict.

`access` turns one recorded HTTP request into what the API server's authoriser sees (verb,
apiGroup, resource or resource/subresource, namespace, name), the way the API server's
request-info resolver does; discovery and other non-resource URLs (`/api`, `/apis/...`
without a resource) are open to every authenticated user and give None. `allows` is RBAC's
rule match, including `resourceNames` (which never match a create or a list, as in
Kubernetes). Nothing here lists what the controller needs: that comes from the recorded run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .recorded_run import Request


@dataclass(frozen=True)
class Access:
    verb: str
    group: str  # "" is the core group
    resource: str  # `ingresses`, or `ingresses/status` for a subresource
    namespace: str | None  # None: cluster-wide (or a cluster-scoped object)
    name: str | None


def access(request: Request) -> Access | None:
    """The authorisation attributes of one request, or None for a non-resource URL."""
    parts = [p for p in request.path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # a group/version discovery document
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), rest[2:3]
    if sub:
        resource = f"{resource}/{sub[0]}"
    method = request.method.upper()
    if method == "GET":
        watching = request.query.get("watch", "").lower() in ("1", "true")
        verb = "watch" if watching else ("get" if name else "list")
    else:
        verb = {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
    return Access(verb, group, resource, namespace, name)


def used(requests: Iterable[Request]) -> set[Access]:
    return {a for r in requests if (a := access(r)) is not None}


def rule_allows(rule: dict[str, Any], wanted: Access) -> bool:
    names = rule.get("resourceNames")
    return (
        wanted.group in rule["apiGroups"]
        and wanted.resource in rule["resources"]
        and wanted.verb in rule["verbs"]
        # A create or list names no object, so a rule limited by name never allows it.
        and (not names or (wanted.name is not None and wanted.name in names))
    )


@dataclass(frozen=True)
class Grant:
    """One RBAC rule of one role, and where it applies (None: cluster-wide)."""

    role: str
    namespace: str | None
    rule: dict[str, Any]

    def allows(self, wanted: Access) -> bool:
        in_scope = self.namespace is None or wanted.namespace == self.namespace
        return in_scope and rule_allows(self.rule, wanted)


def grants(objects: Iterable[dict[str, Any]]) -> list[Grant]:
    """Every rule of every shipped ClusterRole and Role (bindings are checked elsewhere)."""
    found: list[Grant] = []
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "Role"):
            namespace = obj["metadata"].get("namespace") if obj["kind"] == "Role" else None
            role = f"{obj['kind']} {obj['metadata']['name']}"
            found.extend(Grant(role, namespace, rule) for rule in obj["rules"])
    return found


def flatten(grant: Grant) -> list[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples of one rule."""
    rule = grant.rule
    return [
        (group, resource, verb)
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]
