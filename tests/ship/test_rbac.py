"""The RBAC rules grant exactly what tests/ship/kube_access.py says the controller does.

Rules are flattened to (apiGroup, resource, verb) triples, so how they are grouped in YAML
does not matter, and compared as sets both ways: nothing missing, nothing extra.
"""

from __future__ import annotations

from typing import Any

from .artefacts import APP, objects, the_object
from .kube_access import EXPECTED_CLUSTER_ACCESS, EXPECTED_NAMESPACED_ACCESS

Triple = tuple[str, str, str]


def flatten(rules: list[dict[str, Any]]) -> set[Triple]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def expected_cluster() -> set[Triple]:
    return {
        (group, resource, verb)
        for group, resource, verbs in EXPECTED_CLUSTER_ACCESS
        for verb in verbs
    }


def test_cluster_role_grants_exactly_the_declared_access() -> None:
    granted = flatten(the_object("ClusterRole", APP)["rules"])
    assert sorted(granted - expected_cluster()) == [], "granted but not used"
    assert sorted(expected_cluster() - granted) == [], "used but not granted"


def test_cluster_role_has_no_wildcards_secrets_or_names() -> None:
    rules = the_object("ClusterRole", APP)["rules"]
    for rule in rules:
        assert "resourceNames" not in rule
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    assert not {t for t in flatten(rules) if t[1] in {"secrets", "configmaps"}}


def test_namespaced_roles_grant_exactly_the_declared_access() -> None:
    roles = [o for o in objects() if o["kind"] == "Role"]
    granted = {
        (role["metadata"]["namespace"], group, resource, tuple(rule.get("resourceNames", ())), verb)
        for role in roles
        for rule in role["rules"]
        for group, resource, verb in flatten([rule])
    }
    expected = {
        (namespace, group, resource, names, verb)
        for namespace, group, resource, names, verbs in EXPECTED_NAMESPACED_ACCESS
        for verb in verbs
    }
    assert granted == expected
