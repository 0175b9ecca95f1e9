"""Finalizers, deletionTimestamp and namespace deletion, as the API documentation describes.

DELETE of an object with finalizers only sets deletionTimestamp (a MODIFIED event); the
object goes, with a DELETED event, when its last finalizer is removed; no finalizer may be
added meanwhile. Deleting a namespace makes it Terminating, refuses new content in it,
deletes its objects, and removes the namespace once they are all gone.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.sandbox.bodies import configmap, ingress, new_watch

FINALIZER = "ingress.k8s.aws/resources"


def events_since(fn: Any, rv: str, *args: Any) -> list[tuple[str, Any]]:
    return [
        (e["type"], e["object"])
        for e in new_watch().stream(fn, *args, resource_version=rv, timeout_seconds=1)
    ]


def test_finalizer_lifecycle(net: Any) -> None:
    made = net.create_namespaced_ingress("default", ingress("fin", finalizers=[FINALIZER]))
    rv = made.metadata.resource_version
    pending = net.delete_namespaced_ingress("fin", "default")
    pending = pending if isinstance(pending, dict) else pending.to_dict()
    assert pending["metadata"]["deletionTimestamp"]
    still = net.read_namespaced_ingress("fin", "default")
    assert still.metadata.deletion_timestamp is not None
    assert still.metadata.deletion_grace_period_seconds == 0
    # Deleting again changes nothing.
    net.delete_namespaced_ingress("fin", "default")
    with pytest.raises(ApiException) as err:
        more = {"metadata": {"finalizers": [FINALIZER, "new/one"]}}
        net.patch_namespaced_ingress("fin", "default", more)
    assert err.value.status == 422
    net.patch_namespaced_ingress(
        "fin", "default", {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    with pytest.raises(ApiException) as gone:
        net.read_namespaced_ingress("fin", "default")
    assert gone.value.status == 404
    events = events_since(net.list_namespaced_ingress, rv, "default")
    assert [t for t, _ in events] == ["MODIFIED", "DELETED"]
    assert events[0][1].metadata.deletion_timestamp is not None


def test_namespace_deletion_cascades(core: Any, net: Any) -> None:
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", configmap("plain"))
    net.create_namespaced_ingress("doomed", ingress("held", finalizers=[FINALIZER]))
    core.delete_namespace("doomed")
    ns = core.read_namespace("doomed")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp is not None
    assert core.list_namespaced_config_map("doomed").items == []
    held = net.read_namespaced_ingress("held", "doomed")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("doomed", configmap("late"))
    assert err.value.status == 403
    net.patch_namespaced_ingress(
        "held", "doomed", [{"op": "remove", "path": "/metadata/finalizers"}],
        _content_type="application/json-patch+json",
    )  # fmt: skip
    with pytest.raises(ApiException) as gone:
        core.read_namespace("doomed")
    assert gone.value.status == 404


def test_empty_namespace_is_removed_at_once(core: Any) -> None:
    core.create_namespace({"metadata": {"name": "empty"}})
    core.delete_namespace("empty")
    assert "empty" not in [n.metadata.name for n in core.list_namespace().items]
