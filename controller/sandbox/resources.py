"""The resource table: which API resources the emulator serves, and their discovery documents.

Each `ResourceType` says what `/api/v1` or `/apis/<group>/<version>` advertises for it (kind,
scope, verbs, short names, categories, subresources) and which field selectors it accepts.
kubectl resolves `ing`, `svc`, `deploy`, ... through these documents, so they follow the real
API server's values. A `Registry` holds the built-in types plus the ones served for created
CustomResourceDefinitions, and renders the discovery documents from them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")
# Field selectors every resource accepts (the generic registry's default field set).
GENERIC_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceType:
    """One served resource at one group/version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    fields: frozenset[str] = GENERIC_FIELDS
    # Resources stored elsewhere (events.k8s.io Events live with core Events): (group, plural).
    storage: tuple[str, str] | None = None
    custom: bool = False
    # DELETE answers with the deleted object, not a Status (pods, services: ReturnDeletedObject).
    returns_deleted: bool = False
    # additionalPrinterColumns of a CRD version, for `kubectl get` tables.
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Where objects of this resource are stored: (group, plural), shared by all versions."""
        return self.storage or (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def discovery(self) -> list[dict[str, Any]]:
        """The APIResource entries for this resource and its subresources."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(ALL_VERBS),
            "storageVersionHash": _hash(self.api_version, self.plural),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub in sorted(self.subresources):
            sub_entry: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(SUBRESOURCE_VERBS),
            }
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            entries.append(sub_entry)
        return entries


def _hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12]


def _rt(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    fields: Iterable[str] = (),
    storage: tuple[str, str] | None = None,
    returns_deleted: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        subresources=frozenset(sub),
        fields=GENERIC_FIELDS | frozenset(fields),
        storage=storage,
        returns_deleted=returns_deleted,
    )


EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
EVENTS_V1_FIELDS = (
    *(f.replace("involvedObject.", "regarding.") for f in EVENT_FIELDS),
    "reportingController",
)

BUILTIN: tuple[ResourceType, ...] = (
    _rt("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), sub=("status",),
        fields=("status.phase",)),
    _rt("", "v1", "nodes", "Node", namespaced=False, short=("no",), sub=("status",),
        fields=("spec.unschedulable",)),
    _rt("", "v1", "services", "Service", short=("svc",), categories=("all",), sub=("status",),
        returns_deleted=True),
    _rt("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _rt("", "v1", "pods", "Pod", short=("po",), categories=("all",), sub=("status",),
        fields=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                "spec.serviceAccountName", "status.phase", "status.podIP",
                "status.nominatedNodeName"), returns_deleted=True),
    _rt("", "v1", "events", "Event", short=("ev",), fields=EVENT_FIELDS),
    _rt("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _rt("", "v1", "secrets", "Secret", fields=("type",)),
    _rt("apps", "v1", "deployments", "Deployment", short=("deploy",), categories=("all",),
        sub=("status", "scale")),
    _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), sub=("status",)),
    _rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    _rt("coordination.k8s.io", "v1", "leases", "Lease"),
    _rt("events.k8s.io", "v1", "events", "Event", short=("ev",), fields=EVENTS_V1_FIELDS,
        storage=("", "events")),
    _rt("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
        namespaced=False, short=("crd", "crds"), categories=("api-extensions",),
        sub=("status",)),
)  # fmt: skip


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resources a CustomResourceDefinition serves: one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = names.get("kind", "")
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs = version.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                plural=names.get("plural", ""),
                singular=names.get("singular") or kind.lower(),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(s for s in ("status", "scale") if s in subs),
                custom=True,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return out


class Registry:
    """The served resources by group/version, with the discovery documents built from them."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        # Group order as first registered: kubectl prefers earlier groups for short names.
        self._group_order: list[str] = []
        for rt in types:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        with self._lock:
            self._types[(rt.group, rt.version, rt.plural)] = rt
            if rt.group not in self._group_order:
                self._group_order.append(rt.group)

    def remove_group_resource(self, group: str, plural: str) -> None:
        with self._lock:
            for k in [k for k in self._types if k[0] == group and k[2] == plural]:
                del self._types[k]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_key(self, key: tuple[str, str]) -> list[ResourceType]:
        """Every served version whose objects live under this storage key."""
        with self._lock:
            return [rt for rt in self._types.values() if rt.key == key]

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def versions(self, group: str) -> list[str]:
        with self._lock:
            found = {v for (g, v, _) in self._types if g == group}
        return sorted(found, key=_version_priority)

    def groups(self) -> list[str]:
        with self._lock:
            present = {g for (g, _, _) in self._types if g}
            return [g for g in self._group_order if g in present]

    # Discovery documents ---------------------------------------------------------------

    def api_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.versions(group)]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0] if versions else {},
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for g in self.groups():
            doc = self.api_group(g)
            del doc["kind"], doc["apiVersion"]
            groups.append(doc)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        with self._lock:
            rts = [rt for (g, v, _), rt in self._types.items() if g == group and v == version]
        if not rts:
            return None
        resources = [
            entry for rt in sorted(rts, key=lambda r: r.plural) for entry in rt.discovery()
        ]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor)
