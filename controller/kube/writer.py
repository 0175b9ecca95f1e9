"""The few writes the controller makes to Kubernetes, through the official client.

Reads come from kopf's watch streams (see `cache`); writes are rare and each has one job:
add or remove our finalizer, set the status hostname, record what was applied in an
annotation, post an Event, release another controller's custom object (remove its finalizer,
then delete it: aws-load-balancer-controller's TargetGroupBindings, see `bindings`). The
finalizer, annotation and Event writes take a TargetGroupBinding we serve as well as an
Ingress (told apart by apiVersion and kind, `CUSTOM_RESOURCES`), and `set_status` writes its
status subresource. They are
synchronous because reconciles run in worker threads next to boto3. Finalizers are edited
with JSON patches that `test` the list element first, so a concurrent edit (another
controller, or another group's reconcile of an Ingress moving between groups) fails with
`StaleCopyError` instead of being overwritten; the reconciler tries again once the watch has
brought the new copy.
"""

from __future__ import annotations

import datetime
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.aws import WritesFencedError

logger = logging.getLogger(__name__)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "alb-ingress-controller"
# Custom objects the finalizer, annotation, status and Event writes also take, by
# (apiVersion, kind): the TargetGroupBindings this controller serves.
CUSTOM_RESOURCES = {
    ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding"): ("elbv2.k8s.aws", "v1beta1",
                                                      "targetgroupbindings"),
}  # fmt: skip


class StaleCopyError(Exception):
    """A finalizer edit refused because the Ingress changed since the copy it was computed
    from (its JSON patch `test` failed): the watch brings the new copy, then try again."""


class KubeWriter(Protocol):
    """What the reconciler needs to change in the cluster (faked in tests)."""

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None: ...
    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None: ...
    def set_hostname(self, ingress: Mapping[str, Any], hostname: str | None) -> None: ...
    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None: ...
    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...
    def release_custom_object(
        self, resource: tuple[str, str, str], body: Mapping[str, Any], finalizer: str
    ) -> None: ...


EVENT_CACHE_SIZE = 4096  # distinct Events remembered for counting (client-go keeps 4096 too)


@dataclass
class _Seen:
    name: str
    count: int


def _without(current: list[str], finalizer: str) -> list[dict[str, Any]]:
    """A JSON patch removing `finalizer` from `current`, the list as read: it tests the
    element first, so a list changed since fails (422) instead of losing another's."""
    path = f"/metadata/finalizers/{current.index(finalizer)}"
    return [{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}]


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = body.get("metadata") or {}
    return meta


def _kind_of(body: Mapping[str, Any]) -> tuple[str, str]:
    """(apiVersion, kind) of an object we write to: an Ingress unless it says otherwise."""
    if (body.get("apiVersion"), body.get("kind")) in CUSTOM_RESOURCES:
        return str(body["apiVersion"]), str(body["kind"])
    return "networking.k8s.io/v1", "Ingress"


class ApiWriter:
    """`KubeWriter` over the `kubernetes` client (kubeconfig or in-cluster)."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._networking = k8s.NetworkingV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)
        # Events posted, most recent last: (object, type, reason, message) -> name, count.
        self._events: OrderedDict[tuple[Any, ...], _Seen] = OrderedDict()
        self._events_lock = threading.Lock()
        # The leader elector's `may_write`, as for AWS calls: a replica whose Lease is late
        # must not change finalizers, status or records while another may be taking over
        # (a deposed leader's late status patch could blank a hostname the new one wrote).
        # Events are advice and not fenced.
        self.write_guard: Callable[[], bool] | None = None

    def _fence(self, what: str, body: Mapping[str, Any]) -> None:
        guard = self.write_guard
        if guard is not None and not guard():
            meta = _meta(body)
            raise WritesFencedError(
                f"Kubernetes {what} of {meta.get('namespace')}/{meta.get('name')} refused: "
                "not the leader now"
            )

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        self._fence("finalizer change", ingress)
        meta = _meta(ingress)
        current = list(meta.get("finalizers") or [])
        if finalizer in current:
            return
        patch: list[dict[str, Any]]
        if current:
            patch = [{"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]
        else:
            patch = [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": meta.get("resourceVersion"),
                },
                {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
            ]
        self._patch(ingress, patch, JSON_PATCH)

    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
        current = list(_meta(ingress).get("finalizers") or [])
        if finalizer not in current:
            return
        self._fence("finalizer change", ingress)
        try:
            self._patch(ingress, _without(current, finalizer), JSON_PATCH)
        except ApiException as error:
            if error.status != 404:  # already gone with the object: nothing left to do
                raise

    def release_custom_object(
        self, resource: tuple[str, str, str], body: Mapping[str, Any], finalizer: str
    ) -> None:
        """Let a namespaced custom object of another controller go: remove its `finalizer`
        (a JSON patch that tests the element first), then delete it, if it is still the
        object that was read (its uid). Already gone (404) is done; a changed copy fails
        with the API's 422 (the `test`) or 409 (the uid), raised as `ApiException`."""
        self._fence("release", body)
        group, version, plural = resource
        meta = _meta(body)
        name, namespace = meta["name"], meta["namespace"]
        current = list(meta.get("finalizers") or [])
        uid = meta.get("uid")
        options = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=uid)) if uid else None
        try:
            if finalizer in current:
                self._custom.patch_namespaced_custom_object(
                    group,
                    version,
                    namespace,
                    plural,
                    name,
                    _without(current, finalizer),
                    _content_type=JSON_PATCH,
                )
            self._custom.delete_namespaced_custom_object(
                group, version, namespace, plural, name, body=options
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def set_hostname(self, ingress: Mapping[str, Any], hostname: str | None) -> None:
        self._fence("status patch", ingress)
        entries = [{"hostname": hostname}] if hostname else []
        meta = _meta(ingress)
        self._networking.patch_namespaced_ingress_status(
            meta["name"],
            meta["namespace"],
            {"status": {"loadBalancer": {"ingress": entries}}},
            _content_type=MERGE_PATCH,
        )

    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None:
        self._fence("annotation patch", ingress)
        self._patch(ingress, {"metadata": {"annotations": dict(annotations)}}, MERGE_PATCH)

    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Post an Event, or count one more of the same (object, type, reason, message) on
        the Event already posted, as Kubernetes' own recorders do: a day of retries is one
        line in `kubectl describe` ("x300 over 24h"), not three hundred objects. The counts
        live in memory; after a restart the next one starts a new Event, as with client-go.
        """
        meta = _meta(ingress)
        message = message[:1024]  # the API server's practical limit; kopf truncates too
        key = (meta.get("uid"), meta.get("namespace"), meta.get("name"), type_, reason, message)
        now = datetime.datetime.now(datetime.UTC)
        with self._events_lock:
            seen = self._events.get(key)
            if seen is not None:
                self._events.move_to_end(key)
        try:
            if seen is not None and self._count_again(meta["namespace"], seen, now):
                return
            name = f"{meta.get('name')}.{uuid.uuid4().hex[:16]}"
            made = self._new_event(
                meta, name, type_=type_, reason=reason, message=message, now=now,
                kind=_kind_of(ingress),
            )  # fmt: skip
            self._core.create_namespaced_event(meta["namespace"], made)
            seen = _Seen(name, 1)
        except ApiException as error:
            # An Event is advice, not state: losing one must never fail a reconcile.
            logger.warning("could not post Event %s on %s: %s", reason, meta.get("name"), error)
            return
        with self._events_lock:
            self._events[key] = seen
            while len(self._events) > EVENT_CACHE_SIZE:
                self._events.popitem(last=False)

    def _count_again(self, namespace: str, seen: _Seen, now: datetime.datetime) -> bool:
        """Bump the count of an Event we posted; False when it has expired (Events live an
        hour by default) and a new one must be made."""
        seen.count += 1
        patch = {"count": seen.count, "lastTimestamp": now.isoformat().replace("+00:00", "Z")}
        try:
            self._core.patch_namespaced_event(seen.name, namespace, patch)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    @staticmethod
    def _new_event(
        meta: Mapping[str, Any],
        name: str,
        *,
        type_: str,
        reason: str,
        message: str,
        now: datetime.datetime,
        kind: tuple[str, str] = ("networking.k8s.io/v1", "Ingress"),
    ) -> k8s.CoreV1Event:
        return k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(name=name, namespace=meta["namespace"]),
            involved_object=k8s.V1ObjectReference(
                api_version=kind[0],
                kind=kind[1],
                name=meta.get("name"),
                namespace=meta["namespace"],
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
            reason=reason,
            message=message,
            type=type_,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=k8s.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=COMPONENT,
        )

    def _patch(self, ingress: Mapping[str, Any], patch: Any, content_type: str) -> None:
        """Patch an Ingress, or one of the `CUSTOM_RESOURCES` (by its apiVersion and kind)."""
        meta = _meta(ingress)
        kind = _kind_of(ingress)
        try:
            if kind in CUSTOM_RESOURCES:
                group, version, plural = CUSTOM_RESOURCES[kind]
                self._custom.patch_namespaced_custom_object(
                    group, version, meta["namespace"], plural, meta["name"], patch,
                    _content_type=content_type,
                )  # fmt: skip
            else:
                self._networking.patch_namespaced_ingress(
                    meta["name"], meta["namespace"], patch, _content_type=content_type
                )
        except ApiException as error:
            # A failed `test` (422), or a conflict (409): another writer got there first.
            if content_type == JSON_PATCH and error.status in (409, 422):
                raise StaleCopyError(
                    f"{kind[1]} {meta.get('namespace')}/{meta.get('name')} changed since "
                    f"resourceVersion {meta.get('resourceVersion')}"
                ) from error
            raise

    def set_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        """Merge `status` into the status subresource of one of the `CUSTOM_RESOURCES` (a
        TargetGroupBinding's observedGeneration)."""
        self._fence("status patch", body)
        meta = _meta(body)
        group, version, plural = CUSTOM_RESOURCES[_kind_of(body)]
        self._custom.patch_namespaced_custom_object_status(
            group, version, meta["namespace"], plural, meta["name"], {"status": dict(status)},
            _content_type=MERGE_PATCH,
        )  # fmt: skip
