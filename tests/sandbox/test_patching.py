"""PATCH in its three flavours, through the real client, plus the strategic-merge rules.

From the API conventions: JSON merge patch replaces lists; JSON patch applies RFC 6902
operations, and a failed `test` makes the whole patch fail with 422 and change nothing;
strategic merge merges lists by their patchMergeKey, unions `metadata.finalizers` and
honours the `$patch`, `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList`
directives. Custom resources reject strategic merge with 415.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from controller.sandbox.apiserver import ApiServerThread
from controller.sandbox.patching import merge_patch, strategic_merge_patch
from tests.sandbox.bodies import configmap, http

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "finalizers": ["a.example.com/one"]},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                    {"name": "sidecar", "image": "envoy:1"},
                ]},
            },
        },
    }  # fmt: skip


def test_merge_patch_replaces_lists_and_null_deletes(core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("m", a="1", b="2"))
    out = core.patch_namespaced_config_map(
        "m", "default", {"data": {"a": None, "c": "3"}}, _content_type=MERGE
    )
    assert out.data == {"b": "2", "c": "3"}


def test_strategic_merge_merges_containers_by_name(apps: Any) -> None:
    apps.create_namespaced_deployment("default", deployment("d"))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "20"},
                                                     {"name": "C", "value": "3"}]},
    ]}}}}  # fmt: skip
    out = apps.patch_namespaced_deployment("d", "default", patch, _content_type=STRATEGIC)
    containers = out.spec.template.spec.containers
    assert [c.name for c in containers] == ["web", "sidecar"]
    assert containers[0].image == "nginx:2"
    assert containers[0].ports[0].container_port == 80
    assert [(e.name, e.value) for e in containers[0].env] == [("A", "1"), ("B", "20"), ("C", "3")]
    assert out.metadata.generation == 2


def test_merge_patch_on_the_same_list_replaces_it(apps: Any) -> None:
    apps.create_namespaced_deployment("default", deployment("r"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}}
    out = apps.patch_namespaced_deployment("r", "default", patch, _content_type=MERGE)
    assert [c.name for c in out.spec.template.spec.containers] == ["only"]


def test_strategic_delete_directive_and_finalizer_union(apps: Any) -> None:
    apps.create_namespaced_deployment("default", deployment("f"))
    patch = {
        "metadata": {"finalizers": ["b.example.com/two"]},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}},
    }
    out = apps.patch_namespaced_deployment("f", "default", patch, _content_type=STRATEGIC)
    assert out.metadata.finalizers == ["a.example.com/one", "b.example.com/two"]
    assert [c.name for c in out.spec.template.spec.containers] == ["web"]


def test_json_patch_with_passing_test(core: Any) -> None:
    made = core.create_namespaced_config_map("default", configmap("j", a="1"))
    ops = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": made.metadata.resource_version,
        },
        {"op": "add", "path": "/data/b", "value": "2"},
    ]
    out = core.patch_namespaced_config_map("j", "default", ops, _content_type=JSON_PATCH)
    assert out.data == {"a": "1", "b": "2"}


def test_json_patch_failed_test_is_422_and_changes_nothing(core: Any) -> None:
    made = core.create_namespaced_config_map("default", configmap("t", a="1"))
    ops = [
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "test", "path": "/data/a", "value": "not-1"},
    ]
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("t", "default", ops, _content_type=JSON_PATCH)
    body = json.loads(err.value.body or "null")
    assert (err.value.status, body["reason"], body["kind"]) == (422, "Invalid", "Status")
    after = core.read_namespaced_config_map("t", "default")
    assert after.data == {"a": "1"}
    assert after.metadata.resource_version == made.metadata.resource_version


def test_patch_with_stale_resource_version_is_409(core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("p", a="1"))
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "p", "default", {"metadata": {"resourceVersion": "1"}, "data": {"a": "2"}},
            _content_type=MERGE,
        )  # fmt: skip
    assert err.value.status == 409


def test_patch_missing_object_is_404(core: Any) -> None:
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("nope", "default", {"data": {}}, _content_type=MERGE)
    assert err.value.status == 404


def test_unknown_patch_type_is_415(api: ApiServerThread, core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("u"))
    code, body = http(api.url, "PATCH", "/api/v1/namespaces/default/configmaps/u", {}, "text/plain")
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


# The strategic merge rules, on plain dicts.


def test_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    out = strategic_merge_patch(
        svc, {"spec": {"ports": [{"port": 80, "name": "http"}]}}, "", "Service"
    )
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "name": "http"}, {"port": 443}]


def test_conditions_merge_by_type() -> None:
    pod = {"status": {"conditions": [{"type": "Ready", "status": "False"},
                                     {"type": "Scheduled", "status": "True"}]}}  # fmt: skip
    patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    out = strategic_merge_patch(pod, patch, "", "Pod")
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Scheduled", "status": "True"},
    ]


def test_owner_references_merge_by_uid() -> None:
    obj = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}
    out = strategic_merge_patch(obj, patch, "", "ConfigMap")
    assert [o["uid"] for o in out["metadata"]["ownerReferences"]] == ["1", "2"]


def test_lists_without_merge_key_are_replaced() -> None:
    ing = {"spec": {"rules": [{"host": "a"}, {"host": "b"}]}}
    out = strategic_merge_patch(
        ing, {"spec": {"rules": [{"host": "c"}]}}, "networking.k8s.io", "Ingress"
    )
    assert out["spec"]["rules"] == [{"host": "c"}]


def test_map_replace_and_delete_directives() -> None:
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}}}
    patch = {
        "metadata": {"labels": {"$patch": "replace", "c": "3"}, "annotations": {"$patch": "delete"}}
    }
    out = strategic_merge_patch(obj, patch, "", "ConfigMap")
    assert out["metadata"] == {"labels": {"c": "3"}}


def test_retain_keys_and_set_element_order_and_delete_from_primitive_list() -> None:
    obj = {
        "metadata": {"finalizers": ["a", "b", "c"]},
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "x"}, {"name": "y"}]}},
        },
    }
    patch = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]},
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {"spec": {"$setElementOrder/containers": [{"name": "y"}, {"name": "x"}]}},
        },
    }
    out = strategic_merge_patch(obj, patch, "apps", "Deployment")
    assert out["metadata"]["finalizers"] == ["a", "c"]
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["y", "x"]


def test_list_item_replace_directive() -> None:
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "x"}, {"name": "y"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "z"}]}}}}
    out = strategic_merge_patch(obj, patch, "apps", "Deployment")
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "z"}]


def test_merge_patch_rfc7386_example() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert merge_patch(target, {"a": "z", "c": {"f": None}}) == {"a": "z", "c": {"d": "e"}}
