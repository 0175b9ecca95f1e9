"""Create, read, update, delete and their errors, as the Kubernetes API documentation specifies.

Covers server-set metadata (uid, creationTimestamp, resourceVersion, generation), namespace
defaulting from the URL, `Status` bodies with reason and code for 404/409/422, optimistic
concurrency (stale resourceVersion -> 409 Conflict), no-op updates and the status
subresource's isolation from the main resource.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.sandbox.bodies import configmap, ingress


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body or "null")
    return body


def test_create_sets_server_fields_and_defaults_namespace_from_url(net: Any) -> None:
    created = net.create_namespaced_ingress("default", ingress("web"))
    meta = created.metadata
    assert meta.namespace == "default"
    assert meta.uid and meta.creation_timestamp is not None
    assert int(meta.resource_version) > 0
    assert meta.generation == 1
    fetched = net.read_namespaced_ingress("web", "default")
    assert fetched.metadata.uid == meta.uid
    assert fetched.spec.rules[0].host == "a.example.com"


def test_resource_versions_increase_across_all_resources(core: Any, net: Any) -> None:
    first = core.create_namespaced_config_map("default", configmap("a"))
    second = net.create_namespaced_ingress("default", ingress("b"))
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    listed = core.list_namespaced_config_map("default")
    assert int(listed.metadata.resource_version) >= int(second.metadata.resource_version)


def test_get_missing_is_404_with_status_body(net: Any) -> None:
    with pytest.raises(ApiException) as err:
        net.read_namespaced_ingress("nope", "default")
    assert err.value.status == 404
    body = status_of(err.value)
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["code"] == 404
    assert body["message"] == 'ingresses.networking.k8s.io "nope" not found'
    assert body["details"] == {"name": "nope", "group": "networking.k8s.io", "kind": "ingresses"}


def test_create_existing_name_is_409_already_exists(core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", configmap("dup"))
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'configmaps "dup" already exists'


def test_create_in_missing_namespace_is_404(core: Any) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("ghost", configmap("x"))
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'namespaces "ghost" not found'


def test_invalid_name_is_422_naming_the_field(core: Any) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", configmap("Bad_Name"))
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (422, "Invalid")
    assert "metadata.name" in body["message"] and "Bad_Name" in body["message"]


def test_generate_name(core: Any) -> None:
    made = core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "cfg-"}, "data": {}}
    )
    assert made.metadata.name.startswith("cfg-") and len(made.metadata.name) > 4


def test_update_with_stale_resource_version_is_409_conflict(core: Any) -> None:
    made = core.create_namespaced_config_map("default", configmap("c", a="1"))
    stale = made.metadata.resource_version
    made.data = {"a": "2"}
    updated = core.replace_namespaced_config_map("c", "default", made)
    assert updated.data == {"a": "2"}
    assert int(updated.metadata.resource_version) > int(stale)
    made.data = {"a": "3"}
    made.metadata.resource_version = stale
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("c", "default", made)
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]
    assert core.read_namespaced_config_map("c", "default").data == {"a": "2"}


def test_update_without_resource_version_is_unconditional(core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("u", a="1"))
    body = configmap("u", a="9")
    assert core.replace_namespaced_config_map("u", "default", body).data == {"a": "9"}


def test_noop_update_keeps_resource_version(core: Any) -> None:
    made = core.create_namespaced_config_map("default", configmap("same", a="1"))
    again = core.replace_namespaced_config_map("same", "default", made)
    assert again.metadata.resource_version == made.metadata.resource_version


def test_generation_bumps_on_spec_change_only(net: Any) -> None:
    made = net.create_namespaced_ingress("default", ingress("gen"))
    assert made.metadata.generation == 1
    labelled = net.patch_namespaced_ingress("gen", "default", {"metadata": {"labels": {"a": "b"}}})
    assert labelled.metadata.generation == 1
    status = net.patch_namespaced_ingress_status(
        "gen", "default", {"status": {"loadBalancer": {"ingress": [{"hostname": "lb"}]}}}
    )
    assert status.metadata.generation == 1
    changed = net.patch_namespaced_ingress(
        "gen", "default", {"spec": {"ingressClassName": "other"}}
    )
    assert changed.metadata.generation == 2


def test_status_subresource_isolation(net: Any) -> None:
    body = ingress("iso")
    body["status"] = {"loadBalancer": {"ingress": [{"hostname": "ignored-on-create"}]}}
    made = net.create_namespaced_ingress("default", body)
    assert not (made.status and made.status.load_balancer and made.status.load_balancer.ingress)
    # The main resource ignores status changes...
    main = net.patch_namespaced_ingress(
        "iso",
        "default",
        {
            "spec": {"ingressClassName": "x"},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}},
        },
    )
    assert main.spec.ingress_class_name == "x"
    assert not (main.status and main.status.load_balancer and main.status.load_balancer.ingress)
    # ...and /status ignores everything but status.
    st = net.patch_namespaced_ingress_status(
        "iso",
        "default",
        {
            "spec": {"ingressClassName": "y"},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb"}]}},
        },
    )
    assert st.spec.ingress_class_name == "x"
    assert st.status.load_balancer.ingress[0].hostname == "lb"
    assert (
        net.read_namespaced_ingress_status("iso", "default")
        .status.load_balancer.ingress[0]
        .hostname
        == "lb"
    )


def test_delete_without_finalizers_removes_at_once(core: Any) -> None:
    made = core.create_namespaced_config_map("default", configmap("gone"))
    result = core.delete_namespaced_config_map("gone", "default")
    result = result if isinstance(result, dict) else result.to_dict()
    assert result["status"] == "Success"
    assert result["details"]["uid"] == made.metadata.uid
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("gone", "default")
    assert err.value.status == 404


def test_delete_missing_is_404(core: Any) -> None:
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("none", "default")
    assert err.value.status == 404


def test_delete_precondition_uid_mismatch_is_409(core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("pre"))
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map(
            "pre", "default", body={"preconditions": {"uid": "not-the-uid"}}
        )
    assert err.value.status == 409


def test_dry_run_create_stores_nothing(core: Any) -> None:
    made = core.create_namespaced_config_map("default", configmap("dry"), dry_run="All")
    assert made.metadata.name == "dry"
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", "default")


def test_cluster_scoped_and_cross_namespace_list(core: Any, net: Any) -> None:
    core.create_namespace({"metadata": {"name": "team-a"}})
    net.create_namespaced_ingress("team-a", ingress("one"))
    net.create_namespaced_ingress("default", ingress("two"))
    everywhere = net.list_ingress_for_all_namespaces()
    assert sorted((i.metadata.namespace, i.metadata.name) for i in everywhere.items) == [
        ("default", "two"),
        ("team-a", "one"),
    ]
    assert [i.metadata.name for i in net.list_namespaced_ingress("team-a").items] == ["one"]
    names = [n.metadata.name for n in core.list_namespace().items]
    assert "team-a" in names and "default" in names


def test_list_limit_and_continue(core: Any) -> None:
    for n in range(5):
        core.create_namespaced_config_map("default", configmap(f"page-{n}"))
    first = core.list_namespaced_config_map("default", limit=2)
    assert [c.metadata.name for c in first.items] == ["page-0", "page-1"]
    assert first.metadata._continue
    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["page-2", "page-3"]


def test_namespace_mismatch_between_url_and_body_is_400(core: Any) -> None:
    body = configmap("mismatch")
    body["metadata"]["namespace"] = "kube-system"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", body)
    assert err.value.status == 400


def test_events_are_shared_between_core_and_events_k8s_io(k8s: Any, core: Any) -> None:
    events: Any = client.EventsV1Api(k8s)
    events.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "ev1"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingController": "alb-ingress-controller",
            "reportingInstance": "x",
            "action": "Reconcile",
            "reason": "SuccessfullyReconciled",
            "note": "done",
            "type": "Normal",
            "regarding": {"kind": "Ingress", "name": "web", "namespace": "default", "uid": "u1"},
        },
    )
    found = core.list_namespaced_event(
        "default", field_selector="involvedObject.kind=Ingress,involvedObject.name=web"
    )
    assert [(e.reason, e.message, e.involved_object.uid) for e in found.items] == [
        ("SuccessfullyReconciled", "done", "u1")
    ]
    again = events.read_namespaced_event("ev1", "default")
    assert (again.note, again.regarding.name, again.reporting_controller) == (
        "done",
        "web",
        "alb-ingress-controller",
    )
