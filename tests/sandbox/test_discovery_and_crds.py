"""Discovery documents and CustomResourceDefinitions.

Discovery: `/version`, `/api`, `/apis`, group and group/version documents with kind, scope,
verbs, short names and subresources, as kubectl resolves names from them. CRDs: once created
they are Established, served under their group/version/plural (with the status subresource if
declared) and listed in discovery; deleting the CRD deletes its objects and stops serving it.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.sandbox.apiserver import ApiServerThread
from tests.sandbox.bodies import http


def resources(api: ApiServerThread, path: str) -> dict[str, dict[str, Any]]:
    code, body = http(api.url, "GET", path)
    assert code == 200 and body["kind"] == "APIResourceList"
    return {r["name"]: r for r in body["resources"]}


def test_version_and_groups(api: ApiServerThread, k8s: Any) -> None:
    assert client.VersionApi(k8s).get_code().git_version.startswith("v1.")
    groups = {g.name for g in client.ApisApi(k8s).get_api_versions().groups}
    assert {"apps", "networking.k8s.io", "discovery.k8s.io", "coordination.k8s.io",
            "events.k8s.io", "apiextensions.k8s.io"} <= groups  # fmt: skip
    assert client.CoreApi(k8s).get_api_versions().versions == ["v1"]
    code, group = http(api.url, "GET", "/apis/networking.k8s.io")
    assert code == 200 and group["preferredVersion"]["groupVersion"] == "networking.k8s.io/v1"
    assert http(api.url, "GET", "/apis/nope.example.com")[0] == 404


@pytest.mark.parametrize(
    ("path", "name", "kind", "namespaced", "short"),
    [
        ("/api/v1", "pods", "Pod", True, ["po"]),
        ("/api/v1", "services", "Service", True, ["svc"]),
        ("/api/v1", "namespaces", "Namespace", False, ["ns"]),
        ("/api/v1", "nodes", "Node", False, ["no"]),
        ("/api/v1", "endpoints", "Endpoints", True, ["ep"]),
        ("/api/v1", "configmaps", "ConfigMap", True, ["cm"]),
        ("/api/v1", "events", "Event", True, ["ev"]),
        ("/apis/apps/v1", "deployments", "Deployment", True, ["deploy"]),
        ("/apis/networking.k8s.io/v1", "ingresses", "Ingress", True, ["ing"]),
        ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions",
         "CustomResourceDefinition", False, ["crd", "crds"]),
    ],
)  # fmt: skip
def test_resource_entries(
    api: ApiServerThread, path: str, name: str, kind: str, *, namespaced: bool, short: list[str]
) -> None:
    entry = resources(api, path)[name]
    assert (entry["kind"], entry["namespaced"], entry["shortNames"]) == (kind, namespaced, short)
    assert entry["singularName"] == kind.lower()
    assert set(entry["verbs"]) >= {"get", "list", "watch", "create", "update", "patch", "delete"}


def test_subresources_listed(api: ApiServerThread) -> None:
    core = resources(api, "/api/v1")
    assert set(core["pods/status"]["verbs"]) == {"get", "patch", "update"}
    assert "services/status" in core and "configmaps/status" not in core
    scale = resources(api, "/apis/apps/v1")["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert "all" in core["pods"]["categories"]


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                  "shortNames": ["wd"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object",
                                           "x-kubernetes-preserve-unknown-fields": True}},
            "subresources": {"status": {}},
            "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                          "jsonPath": ".spec.size"}],
        }],
    },
}  # fmt: skip


def test_crd_is_established_and_served(api: ApiServerThread, k8s: Any, custom: Any) -> None:
    ext: Any = client.ApiextensionsV1Api(k8s)
    made = ext.create_custom_resource_definition(CRD)
    conditions = {c.type: c.status for c in made.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    served = resources(api, "/apis/example.com/v1")
    assert served["widgets"]["shortNames"] == ["wd"] and "widgets/status" in served
    args = ("example.com", "v1", "default", "widgets")
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 1}, "status": {"ready": True}}  # fmt: skip
    w = custom.create_namespaced_custom_object(*args, body)
    assert "status" not in w and w["metadata"]["generation"] == 1
    w = custom.patch_namespaced_custom_object_status(*args, "w", {"status": {"ready": True}})
    assert w["status"] == {"ready": True} and w["metadata"]["generation"] == 1
    w = custom.patch_namespaced_custom_object(*args, "w", {"spec": {"size": 2}, "status": None})
    assert w["spec"]["size"] == 2 and w["status"] == {"ready": True}
    assert w["metadata"]["generation"] == 2
    assert [
        i["metadata"]["name"] for i in custom.list_namespaced_custom_object(*args)["items"]
    ] == ["w"]
    code, status = http(api.url, "PATCH", "/apis/example.com/v1/namespaces/default/widgets/w",
                        {"spec": {}}, "application/strategic-merge-patch+json")  # fmt: skip
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    ext.delete_custom_resource_definition("widgets.example.com")
    assert http(api.url, "GET", "/apis/example.com/v1")[0] == 404
    assert "example.com" not in {g.name for g in client.ApisApi(k8s).get_api_versions().groups}
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(*args, "w")
    assert err.value.status == 404
    assert not list(api.store.objects(("example.com", "widgets")))


def test_crd_name_must_match_names(k8s: Any) -> None:
    bad = {**CRD, "metadata": {"name": "wrong.example.com"}}
    with pytest.raises(ApiException) as err:
        ext: Any = client.ApiextensionsV1Api(k8s)
        ext.create_custom_resource_definition(bad)
    assert err.value.status == 422 and "metadata.name" in str(err.value.body)


def test_scale_subresource(apps: Any) -> None:
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "s"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "s"}},
                 "template": {"metadata": {"labels": {"app": "s"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    })  # fmt: skip
    scale = apps.read_namespaced_deployment_scale("s", "default")
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=s")
    apps.patch_namespaced_deployment_scale("s", "default", {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("s", "default").spec.replicas == 4
