"""The RBAC rules grant exactly what the controller does, as recorded from a real run.

`recorded_run` runs `alb-ingress-controller run --leader-elect` as the shipped
ServiceAccount against a real kube-apiserver through an Ingress's whole life (incumbent
check, leader election, kopf's list+watch of every watched kind, finalizers, status,
annotations, Events, releasing a TargetGroupBinding LBC left, teardown); the API server's
audit log records every request. Both directions are checked: each request is allowed by the
shipped ClusterRole or Roles (with RBAC's namespace and resourceNames semantics), and each
(apiGroup, resource, verb) the rules grant was used by some request it would allow. A new API
call in the code without a rule, or a rule the code no longer needs, fails here.
"""

from __future__ import annotations

import pytest

from controller.kube.leader import LEASE_NAME
from controller.kube.operator import WATCHED

from .artefacts import APP, NAMESPACE, objects, the_object
from .kube_access import Access, Grant, access, flatten, grants, used
from .recorded_run import RecordedRun


def test_every_request_of_the_run_is_allowed(recorded_run: RecordedRun) -> None:
    rules = grants(objects())
    denied = sorted(
        (a.verb, a.group, a.resource, a.namespace or "*", a.name or "")
        for a in used(recorded_run.requests)
        if not any(g.allows(a) for g in rules)
    )
    assert denied == [], "requests the shipped RBAC would deny"


def test_every_granted_verb_was_used(recorded_run: RecordedRun) -> None:
    done = used(recorded_run.requests)
    unused = []
    for grant in grants(objects()):
        for group, resource, verb in flatten(grant):
            narrow = {**grant.rule, "apiGroups": [group], "resources": [resource], "verbs": [verb]}
            if not any(Grant(grant.role, grant.namespace, narrow).allows(a) for a in done):
                unused.append((grant.role, group, resource, verb))
    assert sorted(unused) == [], "granted but never used"


def test_the_run_exercised_every_part_of_the_kube_layer(recorded_run: RecordedRun) -> None:
    # Guards the run itself: if it stopped early, the comparisons above would prove little.
    done = {(a.verb, a.group, a.resource) for a in used(recorded_run.requests)}
    for group, _, plural in WATCHED.values():
        assert {("list", group, plural), ("watch", group, plural)} <= done, plural
    writes = {
        ("patch", "networking.k8s.io", "ingresses"),  # finalizers, applied annotation
        ("patch", "networking.k8s.io", "ingresses/status"),
        ("create", "", "events"),
        ("list", "coordination.k8s.io", "leases"),  # the incumbent check
        ("create", "coordination.k8s.io", "leases"),  # leader election
        ("update", "coordination.k8s.io", "leases"),
        ("list", "elbv2.k8s.aws", "targetgroupbindings"),  # LBC's, released
        ("patch", "elbv2.k8s.aws", "targetgroupbindings"),
        ("delete", "elbv2.k8s.aws", "targetgroupbindings"),
        ("patch", "elbv2.k8s.aws", "targetgroupbindings/status"),  # a user's, served
        # Pod readiness gates: a condition set, the webhook's certificate made and its CA
        # published.
        ("patch", "", "pods/status"),
        ("get", "", "secrets"),
        ("update", "", "secrets"),
        ("get", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    }
    assert writes <= done
    leases = {
        a
        for a in used(recorded_run.requests)
        if a.verb in ("get", "update") and a.resource == "leases"
    }
    assert {(a.namespace, a.name) for a in leases} == {(NAMESPACE, LEASE_NAME)}


def test_cluster_role_has_no_wildcards_or_names_and_only_watches_secrets() -> None:
    rules = the_object("ClusterRole", APP)["rules"]
    for rule in rules:
        assert "resourceNames" not in rule
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    triples = {t for g in grants([the_object("ClusterRole", APP)]) for t in flatten(g)}
    # Secrets for auth-idp-oidc's client credentials: listed and watched, never read one by
    # one, written or anything else; no ConfigMaps at all.
    assert {t for t in triples if t[1] in {"secrets", "configmaps"}} == {
        ("", "secrets", "list"),
        ("", "secrets", "watch"),
    }


def _event(verb: str, uri: str, ref: dict[str, str] | None) -> dict[str, object]:
    event: dict[str, object] = {"verb": verb, "requestURI": uri}
    if ref is not None:
        event["objectRef"] = ref
    return event


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_event("list", "/api/v1/nodes", {"resource": "nodes", "apiVersion": "v1"}),
         Access("list", "", "nodes", None, None)),
        (_event("watch", "/api/v1/nodes?watch=true", {"resource": "nodes"}),
         Access("watch", "", "nodes", None, None)),
        (_event("patch", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web/status",
                {"resource": "ingresses", "subresource": "status", "namespace": "shop",
                 "name": "web", "apiGroup": "networking.k8s.io"}),
         Access("patch", "networking.k8s.io", "ingresses/status", "shop", "web")),
        # A create's objectRef names what was made; RBAC saw no name.
        (_event("create", "/api/v1/namespaces/shop/events",
                {"resource": "events", "namespace": "shop", "name": "web.1"}),
         Access("create", "", "events", "shop", None)),
        (_event("get", "/api/v1/namespaces/shop", {"resource": "namespaces", "name": "shop"}),
         Access("get", "", "namespaces", None, "shop")),
        (_event("get", "/apis/networking.k8s.io/v1", None), None),
        (_event("get", "/version", None), None),
    ],
)  # fmt: skip
def test_audit_events_map_to_authorisation_attributes(
    event: dict[str, object], expected: Access | None
) -> None:
    assert access(event) == expected


def test_the_api_server_allowed_every_request_of_the_run(recorded_run: RecordedRun) -> None:
    # The real authoriser's verdict on the shipped RBAC, as the audit log recorded it.
    refused = [
        f"{e['verb']} {e['requestURI']} -> {e['responseStatus']['code']}"
        for e in recorded_run.requests
        if e.get("responseStatus", {}).get("code") in (401, 403)
    ]
    assert refused == []
    assert len(recorded_run.requests) > 20, "the run made too few requests to prove anything"


def test_the_authoriser_can_deny() -> None:
    # The checks above can fail: scope, names and verbs all matter.
    role = Grant(
        "Role r",
        NAMESPACE,
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [LEASE_NAME],
            "verbs": ["get", "update"],
        },
    )
    mine = Access("update", "coordination.k8s.io", "leases", NAMESPACE, LEASE_NAME)
    assert role.allows(mine)
    assert not role.allows(
        Access("update", "coordination.k8s.io", "leases", "kube-system", LEASE_NAME)
    )
    assert not role.allows(Access("update", "coordination.k8s.io", "leases", NAMESPACE, "other"))
    assert not role.allows(Access("delete", "coordination.k8s.io", "leases", NAMESPACE, LEASE_NAME))
    assert not role.allows(Access("list", "coordination.k8s.io", "leases", NAMESPACE, None))
