"""The cluster cache's indexes: which groups use a Service, membership, finalizer holders."""

from __future__ import annotations

from controller.config import ModelDefaults
from controller.kube.cache import LAST_APPLIED, ClusterCache

from .fakes import INGRESS_CLASS, ingress, node


def make_cache() -> ClusterCache:
    cache = ClusterCache(ModelDefaults(cluster_name="test"))
    cache.apply_event("IngressClass", None, INGRESS_CLASS)
    return cache


def test_service_users_follow_edits_and_deletes() -> None:
    cache = make_cache()
    cache.apply_event("Ingress", "ADDED", ingress("a", service="web"))
    cache.apply_event("Ingress", "ADDED", ingress("b", service="web", host="b.example.com"))
    assert cache.groups_using_service("shop/web") == {"shop/a", "shop/b"}
    cache.apply_event("Ingress", "MODIFIED", ingress("a", service="api"))
    assert cache.groups_using_service("shop/web") == {"shop/b"}
    assert cache.groups_using_service("shop/api") == {"shop/a"}
    cache.apply_event("Ingress", "DELETED", ingress("b", service="web", host="b.example.com"))
    assert cache.groups_using_service("shop/web") == set()


def test_services_named_in_weighted_forward_actions_count() -> None:
    action = (
        '{"type":"forward","forwardConfig":{"targetGroups":['
        '{"serviceName":"blue","servicePort":"80","weight":90},'
        '{"serviceName":"green","servicePort":"80","weight":10}]}}'
    )
    body = ingress("canary", annotations={"alb.ingress.kubernetes.io/actions.split": action})
    cache = make_cache()
    cache.apply_event("Ingress", "ADDED", body)
    assert cache.groups_using_service("shop/green") == {"shop/canary"}
    assert cache.groups_using_service("shop/web") == {"shop/canary"}


def test_a_group_change_moves_the_service_to_the_new_group() -> None:
    cache = make_cache()
    one = ingress("a", annotations={"alb.ingress.kubernetes.io/group.name": "one"})
    cache.apply_event("Ingress", "ADDED", one)
    assert cache.groups_using_service("shop/web") == {"one"}
    two = ingress("a", annotations={"alb.ingress.kubernetes.io/group.name": "two"})
    two["metadata"]["finalizers"] = ["group.ingress.k8s.aws/one"]  # still held
    cache.apply_event("Ingress", "MODIFIED", two)
    assert cache.groups_using_service("shop/web") == {"one", "two"}
    assert cache.group_members("one") == ["shop/a"]


def test_group_refs_come_from_members_and_holders_not_from_the_id() -> None:
    cache = make_cache()
    # A lone Ingress that left group "g" but still holds it: the cache knows "g" is explicit
    # from the finalizer it carries, and the Ingress's own group is implicit.
    left = ingress("a")
    left["metadata"]["finalizers"] = ["group.ingress.k8s.aws/g"]
    cache.apply_event("Ingress", "ADDED", left)
    held = cache.group_ref("g")
    assert held is not None and held.explicit
    assert held.finalizer == "group.ingress.k8s.aws/g"
    own = cache.group_ref("shop/a")
    assert own is not None and not own.explicit
    assert own.finalizer == "ingress.k8s.aws/resources"
    assert cache.group_ref("nobody") is None


def test_group_index_follows_moves_and_deletes() -> None:
    cache = make_cache()
    one = ingress("a", annotations={"alb.ingress.kubernetes.io/group.name": "one"})
    cache.apply_event("Ingress", "ADDED", one)
    assert cache.groups() == {"one"}
    two = ingress("a", annotations={"alb.ingress.kubernetes.io/group.name": "two"})
    cache.apply_event("Ingress", "MODIFIED", two)  # no finalizer held: "one" is gone
    assert cache.groups() == {"two"}
    assert cache.group_members("one") == []
    cache.apply_event("Ingress", "DELETED", two)
    assert cache.groups() == set()
    assert cache.group_ref("two") is None


def test_the_api_servers_bookkeeping_and_a_nodes_status_detail_are_not_kept() -> None:
    cache = make_cache()
    body = ingress()
    body["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    body["metadata"]["annotations"][LAST_APPLIED] = '{"a whole": "second copy"}'
    cache.apply_event("Ingress", None, body)
    kept = cache.ingress("shop/web")
    assert kept is not None
    assert "managedFields" not in kept["metadata"]
    assert LAST_APPLIED not in kept["metadata"]["annotations"]
    assert kept["spec"] == body["spec"]  # what the model reads stays
    big = node("n1", "i-0000000000000001")
    big["status"]["images"] = [
        {"names": [f"registry/image-{i}:v1"], "sizeBytes": i} for i in range(50)
    ]
    big["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-12-03T00:00:00Z"
    cache.apply_event("Node", None, big)
    kept_node = cache.get("Node", "n1")
    assert kept_node is not None
    assert kept_node["status"] == {
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": big["status"].get("addresses", []),
    }
    assert kept_node["spec"] == big["spec"]
