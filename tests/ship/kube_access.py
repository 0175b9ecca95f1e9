"""What the controller does in the Kubernetes API, derived from its requests, and RBAC's verdict.

`access` turns one audit event of the API server (which resolved the request exactly as its
authoriser sees it) into verb, apiGroup, resource or resource/subresource, namespace and
name; discovery and other non-resource URLs (`/api`, `/apis/...` without a resource) are
open to every authenticated user and give None. `allows` is RBAC's rule match, including
`resourceNames` (which never match a create or a list, as in Kubernetes). Nothing here
lists what the controller needs: that comes from the recorded run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Access:
    verb: str
    group: str  # "" is the core group
    resource: str  # `ingresses`, or `ingresses/status` for a subresource
    namespace: str | None  # None: cluster-wide (or a cluster-scoped object)
    name: str | None


# Verbs whose authorisation names no object, whatever the audit event's objectRef says (a
# create's objectRef carries the name of what was made).
UNNAMED_VERBS = ("create", "list", "watch", "deletecollection")


def access(event: dict[str, Any]) -> Access | None:
    """The authorisation attributes of one audited request, or None for a non-resource URL."""
    ref = event.get("objectRef")
    if not ref or not ref.get("resource"):
        return None
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    verb = event["verb"]
    name = None if verb in UNNAMED_VERBS else ref.get("name")
    return Access(verb, ref.get("apiGroup", ""), resource, ref.get("namespace"), name)


def used(requests: Iterable[dict[str, Any]]) -> set[Access]:
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
