"""The few writes the controller makes to Kubernetes, through the official client.

Reads come from kopf's watch streams (see `cache`); writes are rare and each has one job:
add or remove our finalizer, set the status hostname, record what was applied in an
annotation, post an Event. They are synchronous because reconciles run in worker threads
next to boto3. Finalizers are edited with JSON patches that `test` the list element first,
so a concurrent edit by another controller fails loudly instead of being overwritten.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "alb-ingress-controller"


class KubeWriter(Protocol):
    """What the reconciler needs to change in the cluster (faked in tests)."""

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None: ...
    def remove_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None: ...
    def set_hostname(self, ingress: Mapping[str, Any], hostname: str | None) -> None: ...
    def set_annotations(
        self, ingress: Mapping[str, Any], annotations: Mapping[str, str | None]
    ) -> None: ...
    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = body.get("metadata") or {}
    return meta


class ApiWriter:
    """`KubeWriter` over the `kubernetes` client (kubeconfig or in-cluster)."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._networking = k8s.NetworkingV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)

    def add_finalizer(self, ingress: Mapping[str, Any], finalizer: str) -> None:
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
        index = current.index(finalizer)
        path = f"/metadata/finalizers/{index}"
        patch = [{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}]
        try:
            self._patch(ingress, patch, JSON_PATCH)
        except ApiException as error:
            if error.status != 404:  # already gone with the object: nothing left to do
                raise

    def set_hostname(self, ingress: Mapping[str, Any], hostname: str | None) -> None:
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
        self._patch(ingress, {"metadata": {"annotations": dict(annotations)}}, MERGE_PATCH)

    def event(self, ingress: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = _meta(ingress)
        now = datetime.datetime.now(datetime.UTC)
        body = k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(
                name=f"{meta.get('name')}.{uuid.uuid4().hex[:16]}", namespace=meta["namespace"]
            ),
            involved_object=k8s.V1ObjectReference(
                api_version="networking.k8s.io/v1",
                kind="Ingress",
                name=meta.get("name"),
                namespace=meta["namespace"],
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
            reason=reason,
            message=message[:1024],  # the API server's practical limit; kopf truncates too
            type=type_,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=k8s.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=COMPONENT,
        )
        try:
            self._core.create_namespaced_event(meta["namespace"], body)
        except ApiException as error:
            # An Event is advice, not state: losing one must never fail a reconcile.
            logger.warning("could not post Event %s on %s: %s", reason, meta.get("name"), error)

    def _patch(self, ingress: Mapping[str, Any], patch: Any, content_type: str) -> None:
        meta = _meta(ingress)
        self._networking.patch_namespaced_ingress(
            meta["name"], meta["namespace"], patch, _content_type=content_type
        )
