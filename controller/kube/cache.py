"""An in-memory copy of the objects the model builder reads, and who uses what.

kopf's watch streams feed it (`apply_event`); the reconciler reads a consistent snapshot of
it (`state`). Of a Secret only its key and the keys an OIDC client Secret has
(`clientID`/`clientId`/`clientSecret`) are kept, so TLS keys, registry credentials and
Helm releases never stay in memory; a Secret is kept whether or not an Ingress names it
yet, since a watch delivers it once and an Ingress naming it may come later.

Of a Namespace only its name and labels are kept (an IngressClassParams' namespaceSelector
reads them). IngressClassParams are an optional kind: without their CRD the cluster cannot
list them, so they are marked unavailable, classes then have no params, and a class that
names some is logged once.

Of a Pod only what readiness gates need is kept, and only of a pod that has readiness gates
(`_gated_part`: name, namespace, uid, labels, deletionTimestamp, the gates' condition types,
the ContainersReady and gate conditions, its IPs); of every other pod only its key,
so that the initial sync and the audit can account for it. A pod that loses its gates (they
are fixed at creation, so only a replaced object) goes back to a key.

TargetGroupBindings are kept for `kube.binding_reconciler` (the model builder does not
read them); an optional kind too.

Of every object, the API server's bookkeeping is dropped (`_trimmed`): `managedFields`, often
the largest part of a body, and kubectl's last-applied-configuration annotation, a second copy
of the object; of a Node, also all of its status but its conditions' types and states and its
addresses (a real Node's image list alone is kilobytes).

It also keeps the reverse indexes that let a Service, EndpointSlice, Node, Secret,
IngressClassParams or Namespace change re-reconcile only the groups that use it, instead of
every group in the cluster.
Threads read it (reconciles run in worker threads) while the event loop writes it, hence
the lock.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.config import ModelDefaults
from controller.model import (
    BuildError,
    ClusterState,
    GroupRef,
    group_of,
    held_groups,
    referenced_secrets,
    referenced_services,
)
from controller.model.auth import GONE, OIDC_SECRET_KEYS, client_credentials
from controller.model.class_params import parameters_name
from controller.model.groups import selected_class

logger = logging.getLogger(__name__)

Body = Mapping[str, Any]

KINDS = (
    "Ingress",
    "Service",
    "EndpointSlice",
    "Node",
    "IngressClass",
    "Secret",
    "IngressClassParams",
    "Namespace",
    # Only pods with readiness gates are kept whole (`_gated_part`).
    "Pod",
    # Served by `kube.binding_reconciler`, not read by the model builder.
    "TargetGroupBinding",
)
# Kinds whose objects say where Ingresses belong: a change re-indexes every Ingress.
MEMBERSHIP_KINDS = ("IngressClass", "IngressClassParams")


def object_key(body: Body) -> str:
    meta = body.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


@dataclass(frozen=True)
class Membership:
    """Where one Ingress stands: the group it belongs to now, and those it still holds."""

    group: GroupRef | None
    error: BuildError | None
    held: frozenset[GroupRef]  # groups whose finalizer it carries
    deleting: bool
    key: str = ""

    @property
    def groups(self) -> set[str]:
        """Every group this Ingress's change can affect.

        An Ingress that fits no group (a bad group.name) is reconciled as its own implicit
        group, so its error is reported and anything it held is released.
        """
        result = {ref.id for ref in self.held}
        if self.group is not None:
            result.add(self.group.id)
        elif self.error is not None:
            result.add(self.key)
        return result

    def ref_for(self, group_id: str) -> GroupRef | None:
        """This Ingress's view of the group `group_id`: as a member, a holder, or (with a
        bad group.name) as its own implicit group."""
        if self.group is not None and self.group.id == group_id:
            return self.group
        for ref in self.held:
            if ref.id == group_id:
                return ref
        if self.error is not None and self.key == group_id:
            return GroupRef(id=group_id, explicit=False)
        return None

    def is_member(self, group: GroupRef) -> bool:
        """Whether the Ingress belongs to `group` now (not leaving it, not being deleted)."""
        return self.group == group and not self.deleting


class ClusterCache:
    """The watched objects by kind and key, plus group and Service indexes."""

    def __init__(
        self, defaults: ModelDefaults, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._defaults = defaults
        self._clock = clock
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, Body]] = {kind: {} for kind in KINDS}
        # When each object last changed here: the cache audit (`kube.sync`) drops only what
        # no event touched since its list began.
        self._changed_at: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        self._membership: dict[str, Membership] = {}
        self._group_keys: dict[str, set[str]] = {}  # group id -> Ingresses it affects
        self._ingress_services: dict[str, frozenset[str]] = {}  # Ingress -> Services it uses
        self._service_users: dict[str, set[str]] = {}  # Service -> Ingresses using it
        self._ingress_secrets: dict[str, frozenset[str]] = {}  # Ingress -> Secrets it names
        # The last version of OIDC Secrets deleted while named, marked `GONE`: the model keeps
        # the authentication deployed with them (with a warning) instead of dropping it.
        # Not among the watched objects (the cache audit must not see them).
        self._gone_secrets: dict[str, Body] = {}
        # Kinds the cluster cannot list (IngressClassParams without its CRD), and the classes
        # already logged for naming params that cannot be read.
        self._unavailable: set[str] = set()
        self._warned_classes: set[str] = set()
        # Pods without readiness gates: their keys only (`_gated_part`); the parts pods
        # with gates have in common, once.
        self._ungated_pods: set[str] = set()
        self._shared = _Shared()

    # --- writes (from watch events) ---------------------------------------------------

    def apply_event(self, kind: str, event_type: str | None, body: Body) -> None:
        key = object_key(body)
        if kind == "Secret":
            body = _oidc_part(body)
            self._remember_gone(key, event_type, body)
        elif kind == "Namespace":
            body = _labels_part(body)
        elif kind == "Pod":
            self._apply_pod(key, event_type, body)
            return
        else:
            body = _trimmed(kind, body)
        with self._lock:
            if event_type == "DELETED":
                self._objects[kind].pop(key, None)
                self._changed_at[kind].pop(key, None)
            else:
                self._objects[kind][key] = body
                self._changed_at[kind][key] = self._clock()
            if kind == "Ingress":
                self._index_ingress(key, None if event_type == "DELETED" else body)
            elif kind in MEMBERSHIP_KINDS:
                for ingress_key, ingress in self._objects["Ingress"].items():
                    self._index_ingress(ingress_key, ingress)
            if kind == "IngressClass":
                self._warn_unreadable_params()

    def _apply_pod(self, key: str, event_type: str | None, body: Body) -> None:
        gated = None if event_type == "DELETED" else _gated_part(body, self._shared)
        with self._lock:
            if event_type == "DELETED":
                self._changed_at["Pod"].pop(key, None)
            else:
                self._changed_at["Pod"][key] = self._clock()
            if gated is None:
                self._objects["Pod"].pop(key, None)
                if event_type == "DELETED":
                    self._ungated_pods.discard(key)
                else:
                    self._ungated_pods.add(key)
            else:
                self._ungated_pods.discard(key)
                self._objects["Pod"][key] = gated

    def mark_unavailable(self, kind: str) -> None:
        """The cluster cannot list `kind` (its CRD is not installed): the model is told
        its objects cannot be read, rather than that there are none."""
        with self._lock:
            self._unavailable.add(kind)
            self._warn_unreadable_params()

    def _warn_unreadable_params(self) -> None:
        """One WARNING per class that names IngressClassParams while they cannot be read."""
        if "IngressClassParams" not in self._unavailable:
            return
        for name, ingress_class in sorted(self._objects["IngressClass"].items()):
            params = parameters_name(ingress_class)
            if params is None or name in self._warned_classes:
                continue
            self._warned_classes.add(name)
            logger.warning(
                "IngressClass %s names IngressClassParams %s, but the cluster has no "
                "IngressClassParams CRD (elbv2.k8s.aws) to read it from: its Ingresses are "
                "built without params. Install deploy/manifests/ingressclassparams-crd.yaml "
                "and restart the controller.",
                name,
                params,
            )

    def _remember_gone(self, key: str, event_type: str | None, body: Body) -> None:
        with self._lock:
            self._gone_secrets.pop(key, None)
            last = self._objects["Secret"].get(key) or body
            if event_type == "DELETED" and last.get("data") and self.groups_using_secret(key):
                self._gone_secrets[key] = {**last, GONE: True}

    def _index_ingress(self, key: str, body: Body | None) -> None:
        """Where the Ingress stands and what it uses, as the model says (`group_of`,
        `held_groups`, `referenced_services`); the indexes change only where it does."""
        old = self._membership.pop(key, None)
        for group_id in old.groups if old is not None else ():
            keys = self._group_keys.get(group_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._group_keys[group_id]
        if body is None:
            self._index_services(key, frozenset())
            self._ingress_secrets.pop(key, None)
            return
        classes = list(self._objects["IngressClass"].values())
        found = group_of(body, classes, self._defaults, self._class_params())
        membership = Membership(
            group=found if isinstance(found, GroupRef) else None,
            error=found if isinstance(found, BuildError) else None,
            held=held_groups(body),
            deleting=bool((body.get("metadata") or {}).get("deletionTimestamp")),
            key=key,
        )
        self._membership[key] = membership
        for group_id in membership.groups:
            self._group_keys.setdefault(group_id, set()).add(key)
        self._index_services(key, referenced_services(body))
        secrets = referenced_secrets(body)
        if secrets:
            self._ingress_secrets[key] = secrets
        else:
            self._ingress_secrets.pop(key, None)

    def _index_services(self, key: str, services: frozenset[str]) -> None:
        # Incremental, per Ingress: rebuilding a whole index on every Ingress event made a
        # 1,000-Ingress cluster spend a third of its CPU here (bench/README.md).
        for service in self._ingress_services.pop(key, frozenset()) - services:
            users = self._service_users.get(service)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._service_users[service]
        for service in services:
            self._service_users.setdefault(service, set()).add(key)
        if services:
            self._ingress_services[key] = services

    # --- reads ------------------------------------------------------------------------

    def keys(self, kind: str) -> set[str]:
        with self._lock:
            if kind == "Pod":
                return set(self._objects[kind]) | self._ungated_pods
            return set(self._objects[kind])

    def get(self, kind: str, key: str) -> Body | None:
        """The object as kept; a pod without readiness gates is its name and namespace."""
        with self._lock:
            found = self._objects[kind].get(key)
            if found is None and kind == "Pod" and key in self._ungated_pods:
                namespace, _, name = key.partition("/")
                return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace}}
            return found

    def gated_pods(self) -> list[Body]:
        """The pods with readiness gates, as kept (`_gated_part`)."""
        with self._lock:
            return list(self._objects["Pod"].values())

    def services_selecting(self, namespace: str, labels: Mapping[str, str]) -> list[str]:
        """Keys of the Services of `namespace` whose (non-empty) selector matches `labels`."""
        prefix = namespace + "/"
        with self._lock:
            services = [(k, b) for k, b in self._objects["Service"].items() if k.startswith(prefix)]
        found = []
        for key, service in services:
            selector = (service.get("spec") or {}).get("selector")
            if (
                isinstance(selector, Mapping)
                and selector
                and all(labels.get(k) == v for k, v in selector.items())
            ):
                found.append(key)
        return sorted(found)

    def changed_before(self, kind: str, when: float) -> set[str]:
        """Keys of `kind` no event has touched since `when` (a `clock()` reading)."""
        with self._lock:
            return {key for key, at in self._changed_at[kind].items() if at < when}

    def membership(self, ingress_key: str) -> Membership | None:
        with self._lock:
            return self._membership.get(ingress_key)

    def ingress(self, key: str) -> Body | None:
        with self._lock:
            return self._objects["Ingress"].get(key)

    def groups(self) -> set[str]:
        """Every group that has a member or a finalizer holder."""
        with self._lock:
            return set(self._group_keys)

    def group_members(self, group_id: str) -> list[str]:
        """Ingresses that belong to the group now, or hold its finalizer."""
        with self._lock:
            return sorted(self._group_keys.get(group_id, ()))

    def group_ref(self, group_id: str) -> GroupRef | None:
        """The group `group_id` is (explicit or not), as its members and holders say; None
        when no Ingress belongs to it or holds it any more."""
        with self._lock:
            for key in sorted(self._group_keys.get(group_id, ())):
                ref = self._membership[key].ref_for(group_id)
                if ref is not None:
                    return ref
            return None

    def groups_using_service(self, service_key: str) -> set[str]:
        with self._lock:
            return {
                group
                for key in self._service_users.get(service_key, ())
                for group in self._membership[key].groups
            }

    def groups_using_secret(self, secret_key: str) -> set[str]:
        """Groups whose members name the Secret in `auth-idp-oidc`, or use a Service whose
        annotation names it."""
        namespace = secret_key.split("/", 1)[0]
        with self._lock:
            groups = {
                group
                for key, secrets in self._ingress_secrets.items()
                if secret_key in secrets
                for group in self._membership[key].groups
            }
            services = [
                key
                for key, body in self._objects["Service"].items()
                if key.startswith(namespace + "/") and secret_key in referenced_secrets(body)
            ]
        for service in services:
            groups |= self.groups_using_service(service)
        return groups

    def client_secret(self, namespace: str, name: str) -> str | None:
        """The `clientSecret` of a Secret as the watch last delivered it (the AWS layer asks
        at deploy time, `controller.aws.client_secrets`)."""
        key = f"{namespace}/{name}"
        with self._lock:
            body = self._objects["Secret"].get(key) or self._gone_secrets.get(key)
        return client_credentials(body)[1] if body is not None else None

    def groups_using_class_params(self, name: str) -> set[str]:
        """Groups whose members (or holders) are of a class naming IngressClassParams
        `name`: what a change of that object can affect."""
        with self._lock:
            classes = list(self._objects["IngressClass"].values())
            return {
                group
                for key, ingress in self._objects["Ingress"].items()
                if parameters_name(selected_class(ingress, classes, self._defaults)) == name
                and key in self._membership
                for group in self._membership[key].groups
            }

    def groups_in_namespace(self, namespace: str) -> set[str]:
        """Groups with a member (or holder) in `namespace`: a change of its labels can let
        them use their class or refuse it (namespaceSelector)."""
        with self._lock:
            return {
                group
                for key, membership in self._membership.items()
                if key.startswith(namespace + "/")
                for group in membership.groups
            }

    def groups_using_instance_targets(self) -> set[str]:
        """Groups a Node change may affect: every group (target type is decided per TG)."""
        return self.groups()

    def state(self) -> ClusterState:
        """A snapshot for the model builder."""
        with self._lock:
            return ClusterState(
                ingresses=tuple(self._objects["Ingress"].values()),
                services=tuple(self._objects["Service"].values()),
                endpoint_slices=tuple(self._objects["EndpointSlice"].values()),
                nodes=tuple(self._objects["Node"].values()),
                ingress_classes=tuple(self._objects["IngressClass"].values()),
                secrets=(
                    *(b for b in self._objects["Secret"].values() if b.get("data")),
                    *self._gone_secrets.values(),
                ),
                ingress_class_params=self._class_params(),
                namespaces=tuple(self._objects["Namespace"].values()),
                pods=tuple(self._objects["Pod"].values()),
            )

    def _class_params(self) -> tuple[Body, ...] | None:
        if "IngressClassParams" in self._unavailable:
            return None
        return tuple(self._objects["IngressClassParams"].values())


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _trimmed(kind: str, body: Body) -> Body:
    """`body` without what nothing here reads (module doc); the same object if nothing goes."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    bookkeeping = "managedFields" in meta or LAST_APPLIED in annotations
    if not bookkeeping and kind != "Node":
        return body
    trimmed: dict[str, Any] = dict(body)
    if bookkeeping:
        kept = {k: v for k, v in meta.items() if k != "managedFields"}
        if LAST_APPLIED in annotations:
            kept["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        trimmed["metadata"] = kept
    if kind == "Node":
        status = body.get("status") or {}
        trimmed["status"] = {
            "conditions": [
                {"type": c.get("type"), "status": c.get("status")}
                for c in status.get("conditions") or ()
                if isinstance(c, Mapping)
            ],
            "addresses": list(status.get("addresses") or ()),
        }
    return trimmed


def _labels_part(body: Body) -> Body:
    """What the cache keeps of a Namespace: its name and labels."""
    meta = body.get("metadata") or {}
    return {
        "kind": "Namespace",
        "metadata": {"name": meta.get("name"), "labels": dict(meta.get("labels") or {})},
    }


# The pod condition readiness gates need besides the gates' own: are its containers ready?
POD_CONDITIONS = ("ContainersReady",)
SHARED_PARTS = 4096  # distinct label sets, gate lists and conditions kept once (LRU)


class _Shared:
    """One copy of each small part pods have in common: the pods of a ReplicaSet carry the
    same labels and gates, and most conditions are one of a few (ContainersReady True, a
    gate True Healthy, ...). Parts are read-only once made; a part that drops out of the
    LRU is only no longer shared."""

    def __init__(self, size: int = SHARED_PARTS) -> None:
        self._size = size
        self._parts: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def __call__(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        found = self._parts.get(key)
        if found is None:
            found = self._parts[key] = make()
            if len(self._parts) > self._size:
                self._parts.popitem(last=False)
        else:
            self._parts.move_to_end(key)
        return found


def _gated_part(body: Body, shared: _Shared) -> Body | None:
    """What the cache keeps of a Pod that has readiness gates; None for one without."""
    spec = body.get("spec") or {}
    gates = tuple(
        g["conditionType"]
        for g in spec.get("readinessGates") or ()
        if isinstance(g, Mapping) and isinstance(g.get("conditionType"), str)
    )
    if not gates:
        return None
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    wanted = (*POD_CONDITIONS, *gates)
    conditions = []
    for condition in status.get("conditions") or ():
        if not isinstance(condition, Mapping) or condition.get("type") not in wanted:
            continue
        kept = {"type": condition["type"], "status": condition.get("status")}
        if condition["type"] in gates:  # compared before a patch: reason and message too
            kept |= {k: condition[k] for k in ("reason", "message") if condition.get(k)}
        conditions.append(shared(("condition", *kept.items()), functools.partial(dict, kept)))
    slim_meta = {k: meta[k] for k in ("name", "namespace", "uid") if meta.get(k)}
    labels = meta.get("labels")
    if isinstance(labels, Mapping) and labels:
        items = tuple(sorted(labels.items()))
        slim_meta["labels"] = shared(("labels", *items), lambda: dict(items))
    if meta.get("deletionTimestamp"):
        slim_meta["deletionTimestamp"] = meta["deletionTimestamp"]
    contents = tuple(tuple(c.items()) for c in conditions)
    slim_status: dict[str, Any] = {
        "conditions": shared(("conditions", *contents), lambda: conditions)
    }
    if status.get("podIP"):
        slim_status["podIP"] = status["podIP"]
    ips = [p.get("ip") for p in status.get("podIPs") or () if isinstance(p, Mapping)]
    if len(ips) > 1:  # dual-stack; otherwise podIP says it all
        slim_status["podIPs"] = [{"ip": ip} for ip in ips]
    return {
        "kind": "Pod",
        "metadata": slim_meta,
        "spec": shared(
            ("gates", *gates), lambda: {"readinessGates": [{"conditionType": g} for g in gates]}
        ),
        "status": slim_status,
    }


def _oidc_part(body: Body) -> Body:
    """What the cache keeps of a Secret: its name and its OIDC client keys, if any."""
    meta = body.get("metadata") or {}
    data = body.get("data") or {}
    kept = {k: data[k] for k in OIDC_SECRET_KEYS if isinstance(data, Mapping) and k in data}
    return {
        "kind": "Secret",
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "data": kept,
    }
