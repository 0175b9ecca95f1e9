"""Same input, same output: names, hashes, order; and names keep AWS's shape."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from controller.config import ModelDefaults
from controller.model import build
from controller.model.names import load_balancer_name, security_group_name, target_group_name

from .factories import DEFAULTS, ann, ingress, path, rule, service, state


def _objects() -> list[dict[str, Any]]:
    members = [
        ingress(
            f"ing-{i}",
            f"ns-{i % 3}",
            annotations={"alb.ingress.kubernetes.io/group.name": "shared", **ann(tags=f"i={i}x")}
            if i % 2
            else ann(scheme="internet-facing"),
            rules=[rule(f"h{i}.example.com", path("/", "svc"), path("/api", "svc", "http"))],
        )
        for i in range(8)
    ]
    services = [service("svc", f"ns-{i}") for i in range(3)]
    return [*members, *services]


def test_same_input_same_plan() -> None:
    first = build(state(*_objects()), DEFAULTS).model_dump_json()
    second = build(state(*_objects()), DEFAULTS).model_dump_json()
    assert first == second


def test_input_order_does_not_matter() -> None:
    objects = _objects()
    expected = build(state(*objects), DEFAULTS)
    for seed in range(5):
        shuffled = objects[:]
        random.Random(seed).shuffle(shuffled)
        assert build(state(*shuffled), DEFAULTS) == expected


def test_stack_digest_is_stable() -> None:
    [a, *_] = build(state(*_objects()), DEFAULTS).stacks
    [b, *_] = build(state(*_objects()), DEFAULTS).stacks
    assert a.digest() == b.digest()


def test_names_depend_on_cluster() -> None:
    other = ModelDefaults(cluster_name="other")
    names = {s.load_balancer.name for s in build(state(*_objects()), DEFAULTS).stacks}
    other_names = {s.load_balancer.name for s in build(state(*_objects()), other).stacks}
    assert names.isdisjoint(other_names)


NAME = re.compile(r"^k8s-[a-z0-9-]+-[0-9a-f]{10}$")


def test_name_shapes_and_lengths() -> None:
    long = "a-very-long-namespace-name-that-goes-on"
    lb = load_balancer_name("c", f"{long}/{long}", False, "internal")
    group = load_balancer_name("c", "a.group.name.that-is-quite-long", True, "internal")
    tg = target_group_name(
        cluster="c",
        stack_id="s",
        ingress=f"{long}/x",
        service=f"{long}/{long}",
        service_uid="",
        service_port=80,
        target_group_port=8080,
        target_type="ip",
        protocol="HTTP",
        protocol_version="HTTP1",
    )
    for name in (lb, group, tg, security_group_name("c", "ns/name", False)):
        assert NAME.match(name), name
        assert len(name) <= 32
    assert lb.startswith("k8s-averylon-averylon-")
    assert group.startswith("k8s-agroupnamethatisq-")


def test_scheme_changes_the_load_balancer_name_but_not_the_security_group() -> None:
    assert load_balancer_name("c", "ns/a", False, "internal") != load_balancer_name(
        "c", "ns/a", False, "internet-facing"
    )
    assert security_group_name("c", "ns/a", False) == security_group_name("c", "ns/a", False)


def test_target_group_name_changes_with_what_forces_replacement() -> None:
    base = {
        "cluster": "c",
        "stack_id": "s",
        "ingress": "ns/i",
        "service": "ns/svc",
        "service_uid": "uid-1",
        "service_port": 80,
        "target_group_port": 8080,
        "target_type": "ip",
        "protocol": "HTTP",
        "protocol_version": "HTTP1",
    }
    name = target_group_name(**base)  # type: ignore[arg-type]
    for key, value in [
        ("target_type", "instance"),
        ("protocol", "HTTPS"),
        ("protocol_version", "GRPC"),
        ("service_port", "http"),
        ("service_uid", "uid-2"),  # the Service was deleted and made again
        ("target_group_port", 31000),
    ]:
        assert target_group_name(**{**base, key: value}) != name  # type: ignore[arg-type]


def test_load_balancer_name_is_lbcs_formula() -> None:
    # LBC: sha256(cluster + groupID + scheme), hex, first 10; names stripped to [a-z0-9].
    digest = hashlib.sha256(b"prodgame-2048/ingress-2048internet-facing").hexdigest()[:10]
    name = load_balancer_name("prod", "game-2048/ingress-2048", False, "internet-facing")
    assert name == f"k8s-game2048-ingress2-{digest}"
    digest = hashlib.sha256(b"prodshared-groupinternal").hexdigest()[:10]
    assert load_balancer_name("prod", "shared-group", True, "internal") == (
        f"k8s-sharedgroup-{digest}"
    )


def test_target_group_name_is_lbcs_formula() -> None:
    # LBC (`buildTargetGroupName`): sha256 over cluster, group id, Ingress namespace and name,
    # Service UID, the backend port as written, the target group port, target type, protocol
    # and protocol version, one after another; `k8s-<ns8>-<svc8>-<hash10>`.
    inputs = ["prod", "game-2048/ingress-2048", "game-2048", "ingress-2048",
              "6f1c2a3e-uid", "80", "30080", "instance", "HTTP", "HTTP1"]  # fmt: skip
    digest = hashlib.sha256("".join(inputs).encode()).hexdigest()[:10]
    name = target_group_name(
        cluster="prod",
        stack_id="game-2048/ingress-2048",
        ingress="game-2048/ingress-2048",
        service="game-2048/service-2048",
        service_uid="6f1c2a3e-uid",
        service_port=80,
        target_group_port=30080,
        target_type="instance",
        protocol="HTTP",
        protocol_version="HTTP1",
    )
    assert name == f"k8s-game2048-service2-{digest}"
