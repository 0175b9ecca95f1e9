"""Property tests: random and malformed Ingresses never make the builder raise.

Ingresses, Services and annotation values are drawn from a mix of valid values, near misses
and arbitrary JSON (wrong types, nulls, nesting). `build` must return a `Plan` every time,
with errors naming Ingresses, and the plan must render; `ModelError` is the only exception
the builder may raise at all, and with well-typed objects it should not happen either.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from controller.model import ANNOTATIONS, ClusterState, Plan, build, build_targets
from controller.model.annotations import PREFIX
from controller.plan import render_json, render_text

from .factories import DEFAULTS, ingress, ingress_class, path, rule, service

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)

ACTIONS = [
    json.dumps(action)
    for action in (
        {
            "type": "forward",
            "forwardConfig": {
                "targetGroups": [
                    {"serviceName": "svc", "servicePort": 80, "weight": 5},
                    {"serviceName": "missing", "servicePort": "http"},
                ]
            },
        },
        {"type": "forward", "targetGroupName": "tg"},
        {"type": "redirect", "redirectConfig": {"statusCode": "HTTP_302", "port": 443}},
        {"type": "fixed-response", "fixedResponseConfig": {"statusCode": "418"}},
    )
]
CONDITIONS = [
    json.dumps([{"field": field, config: {"values": values}}])
    for field, config, values in (
        ("host-header", "hostHeaderConfig", ["a.example.com", "b.example.com"]),
        ("query-string", "queryStringConfig", [{"key": "a", "value": "b"}]),
        ("source-ip", "sourceIpConfig", ["::/0", "10.0.0.0/8", "1.2.3.4/32", "5.6.7.8/32"]),
    )
]
INTERESTING = [
    "",
    "80",
    "443",
    "-1",
    "0",
    "1000",
    "true",
    "false",
    "internal",
    "internet-facing",
    "ip",
    "instance",
    "HTTP",
    "HTTPS",
    "GRPC",
    "HTTP2",
    "dualstack",
    "a=b,c=d",
    "traffic-port",
    "http",
    "/health",
    "200-399",
    "12",
    "shared",
    "UPPER",
    "arn:aws:acm:us-east-1:1:certificate/x",
    '[{"HTTP": 80}]',
    '[{"HTTPS": 443}]',
    '[{"HTTP": 80}, {"HTTPS": 443}]',
    "10.0.0.0/8,::/0",
    "sg-1,sg-2",
    *ACTIONS,
    *CONDITIONS,
]
KEYS = [
    *(spec.key for spec in ANNOTATIONS if not spec.templated),
    PREFIX + "actions.svc",
    PREFIX + "actions.act",
    PREFIX + "conditions.svc",
    "kubernetes.io/ingress.class",
]
VALUES = st.one_of(
    st.sampled_from(INTERESTING),
    st.text(max_size=20),
    JSON.map(json.dumps),
    JSON,  # not even a string
)
ANNOTATION_MAPS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)

PORT = st.one_of(
    st.fixed_dictionaries({"number": st.one_of(st.just(80), st.integers(-1, 70000), JSON)}),
    st.fixed_dictionaries({"name": st.sampled_from(["http", "use-annotation", "nope"])}),
    JSON,
)
BACKEND = st.one_of(
    st.fixed_dictionaries(
        {
            "service": st.fixed_dictionaries(
                {"name": st.sampled_from(["svc", "act", "missing", ""]), "port": PORT}
            )
        }
    ),
    JSON,
)
PATH = st.fixed_dictionaries(
    {"backend": BACKEND},
    optional={
        "path": st.one_of(st.sampled_from(["/", "/a", "/a/", "/*", "x", ""]), st.text(max_size=8)),
        "pathType": st.sampled_from(["Prefix", "Exact", "ImplementationSpecific", "Bogus"]),
    },
)
RULE = st.fixed_dictionaries(
    {},
    optional={
        "host": st.sampled_from(["a.example.com", "*.x.example.com", "", "A.Example.com."]),
        "http": st.one_of(st.fixed_dictionaries({"paths": st.lists(PATH, max_size=4)}), JSON),
    },
)
SPEC = st.one_of(
    st.fixed_dictionaries(
        {"ingressClassName": st.sampled_from(["alb", "alb", "other"])},
        optional={
            "rules": st.one_of(st.lists(RULE, max_size=3), JSON),
            "defaultBackend": BACKEND,
            "tls": st.one_of(
                st.lists(
                    st.fixed_dictionaries({"hosts": st.lists(st.text(max_size=6), max_size=2)}),
                    max_size=2,
                ),
                JSON,
            ),
        },
    ),
    JSON,
)
METADATA = st.one_of(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c"]), "namespace": st.sampled_from(["default", "x"])},
        optional={
            "annotations": ANNOTATION_MAPS,
            "deletionTimestamp": st.just("2024-01-01T00:00:00Z"),
        },
    ),
    JSON,
)
INGRESS = st.fixed_dictionaries({"kind": st.just("Ingress"), "metadata": METADATA, "spec": SPEC})
SERVICE = st.fixed_dictionaries(
    {
        "kind": st.just("Service"),
        "metadata": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["svc", "other"]),
                "namespace": st.sampled_from(["default", "x"]),
            },
            optional={"annotations": ANNOTATION_MAPS},
        ),
        "spec": st.one_of(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["NodePort", "ClusterIP", "LoadBalancer"]),
                    "ports": st.lists(
                        st.fixed_dictionaries(
                            {"port": st.sampled_from([80, 443, 0])},
                            optional={
                                "name": st.sampled_from(["http", "https"]),
                                "targetPort": st.one_of(
                                    st.integers(1, 9000), st.sampled_from(["web"]), JSON
                                ),
                                "nodePort": st.integers(30000, 30100),
                            },
                        ),
                        max_size=3,
                    ),
                }
            ),
            JSON,
        ),
    }
)


def _check(plan: Plan) -> None:
    assert isinstance(plan, Plan)
    # Shown by --hypothesis-show-statistics: how often input built, and how often it failed.
    event("built a stack" if plan.stacks else "no stack")
    event("had errors" if plan.errors else "no errors")
    for error in plan.errors:
        assert error.field and error.message
    render_text(plan)
    json.loads(render_json(plan))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(INGRESS, max_size=4), st.lists(SERVICE, max_size=2))
def test_random_ingresses_never_raise(
    ingresses: list[dict[str, Any]], services: list[dict[str, Any]]
) -> None:
    cluster = ClusterState(
        ingresses=ingresses, services=services, ingress_classes=[ingress_class()]
    )
    plan = build(cluster, DEFAULTS)
    _check(plan)
    for stack in plan.stacks:
        build_targets(stack, cluster)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "kind": st.sampled_from(
                    ["Ingress", "Service", "IngressClass", "Node", "EndpointSlice"]
                )
            },
            optional={"metadata": JSON, "spec": JSON, "status": JSON},
        ),
        max_size=5,
    )
)
def test_arbitrary_objects_never_raise(objects: list[dict[str, Any]]) -> None:
    cluster = ClusterState.from_objects([*objects, ingress_class()])
    plan = build(cluster, DEFAULTS)
    _check(plan)
    for stack in plan.stacks:
        build_targets(stack, cluster)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(KEYS), VALUES)
def test_any_single_annotation_value_is_an_error_or_builds(key: str, value: Any) -> None:
    ing = ingress("a", annotations={key: value}, rules=[rule(None, path("/"))])
    svc = service(ports=[{"port": 80, "nodePort": 30080}])
    plan = build(
        ClusterState(ingresses=[ing], services=[svc], ingress_classes=[ingress_class()]), DEFAULTS
    )
    _check(plan)
    if key == "kubernetes.io/ingress.class" and value != "alb":
        assert plan.stacks == () and plan.errors == ()  # not ours: ignored entirely
    else:
        # Either it built, or it failed with errors naming this Ingress: never silently dropped.
        assert bool(plan.stacks) != bool(plan.errors)
        assert all(e.ingress == "default/a" for e in plan.errors)
