"""Label and field selectors on list (and their parse errors), per the API documentation."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from controller.sandbox.selectors import parse_label_selector
from tests.sandbox.bodies import configmap


@pytest.fixture
def labelled(core: Any) -> Any:
    core.create_namespaced_config_map(
        "default", configmap("prod-web", {"env": "prod", "tier": "web"})
    )
    core.create_namespaced_config_map(
        "default", configmap("prod-db", {"env": "prod", "tier": "db"})
    )
    core.create_namespaced_config_map(
        "default", configmap("dev-web", {"env": "dev", "tier": "web"})
    )
    core.create_namespaced_config_map("default", configmap("bare"))
    return core


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("env=prod", ["prod-db", "prod-web"]),
        ("env==prod", ["prod-db", "prod-web"]),
        ("env!=prod", ["bare", "dev-web"]),
        ("env in (dev, prod),tier=web", ["dev-web", "prod-web"]),
        ("env notin (prod)", ["bare", "dev-web"]),
        ("tier", ["dev-web", "prod-db", "prod-web"]),
        ("!tier", ["bare"]),
        ("env=prod,tier!=web", ["prod-db"]),
    ],
)
def test_label_selectors(labelled: Any, selector: str, names: list[str]) -> None:
    found = labelled.list_namespaced_config_map("default", label_selector=selector)
    assert sorted(c.metadata.name for c in found.items) == names


def test_field_selector_name_and_namespace(labelled: Any) -> None:
    found = labelled.list_config_map_for_all_namespaces(
        field_selector="metadata.name=prod-db,metadata.namespace=default"
    )
    assert [c.metadata.name for c in found.items] == ["prod-db"]
    others = labelled.list_namespaced_config_map("default", field_selector="metadata.name!=bare")
    assert "bare" not in [c.metadata.name for c in others.items] and len(others.items) == 3


def test_pod_field_selector_on_node_name(core: Any) -> None:
    for name, node in (("a", "n1"), ("b", "n2")):
        core.create_namespaced_pod(
            "default",
            {"metadata": {"name": name},
             "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}},
        )  # fmt: skip
    found = core.list_namespaced_pod("default", field_selector="spec.nodeName=n2")
    assert [p.metadata.name for p in found.items] == ["b"]


def test_unsupported_field_is_400(core: Any) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default", field_selector="data.a=1")
    assert err.value.status == 400
    assert "field label not supported: data.a" in str(err.value.body)


def test_bad_label_selector_is_400(core: Any) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default", label_selector="env in prod")
    assert err.value.status == 400


def test_parse_exists_and_values_with_dots() -> None:
    sel = parse_label_selector("app.kubernetes.io/name=web-1.2, !skip")
    assert sel.matches({"app.kubernetes.io/name": "web-1.2"})
    assert not sel.matches({"app.kubernetes.io/name": "web-1.2", "skip": ""})
