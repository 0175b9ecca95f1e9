"""IngressClassParams in the model: the class's params win over the Ingresses' annotations
(with a warning where they differ), namespaceSelector refuses other namespaces, group.name
groups the class, bad params are errors naming the object and field, and a class without
params builds as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.config import ModelDefaults
from controller.model import ClusterState, Plan, build
from controller.model.annotations import PREFIX
from controller.model.class_params import (
    FIELDS,
    INGRESS_CLASS_PARAMS_OVERRIDE,
    ParamsIndex,
    parse_params,
)
from controller.model.inputs import IngressClassParamsSpec
from controller.model.stack import Stack
from sandbox.objects import ingress_class, ingress_class_params, namespace
from tests.unit.factories import DEFAULTS, ann, ingress, path, rule, service

REPO = Path(__file__).resolve().parents[2]
CERT = "arn:aws:acm:us-east-1:111122223333:certificate/aaaa"
OTHER_CERT = "arn:aws:acm:us-east-1:111122223333:certificate/bbbb"
WEB_ACL = "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/web/0123"


def cluster(
    params: dict[str, Any] | None,
    *objects: dict[str, Any],
    class_params: str | None = "web",
) -> ClusterState:
    """The class `alb` naming the IngressClassParams `web` (with `params` as its spec; None:
    no such object), a Service `svc` and `objects`."""
    extra = [ingress_class_params("web", params)] if params is not None else []
    return ClusterState.from_objects(
        [ingress_class(params=class_params), service(), *extra, *objects]
    )


def plan_of(state: ClusterState, defaults: ModelDefaults = DEFAULTS) -> Plan:
    return build(state, defaults)


def only_stack(plan: Plan) -> Stack:
    assert plan.errors == (), plan.errors
    (stack,) = plan.stacks
    return stack


def overrides(plan: Plan) -> list[tuple[str, str]]:
    return [
        (w.ingress, w.field) for w in plan.warnings if w.reason == INGRESS_CLASS_PARAMS_OVERRIDE
    ]


def field_of(name: str) -> str:
    return f"metadata.annotations[{PREFIX}{name}]"


# --- params win over annotations, with a warning ------------------------------------------------


def test_the_params_scheme_wins_over_the_annotation_with_a_warning() -> None:
    app = ingress(annotations=ann(scheme="internal"))
    without = only_stack(plan_of(cluster({}, app)))
    assert without.load_balancer.scheme == "internal"
    plan = plan_of(cluster({"scheme": "internet-facing"}, app))
    assert only_stack(plan).load_balancer.scheme == "internet-facing"
    assert overrides(plan) == [("default/app", field_of("scheme"))]
    (warning,) = plan.warnings
    assert "IngressClassParams web spec.scheme" in warning.message
    assert "'internal'" in warning.message and "'internet-facing'" in warning.message


def test_an_equal_annotation_is_no_override() -> None:
    plan = plan_of(cluster({"scheme": "internal"}, ingress(annotations=ann(scheme="internal"))))
    assert only_stack(plan).load_balancer.scheme == "internal"
    assert plan.warnings == ()


def test_params_apply_without_any_annotation() -> None:
    stack = only_stack(plan_of(cluster({"scheme": "internet-facing"}, ingress())))
    assert stack.load_balancer.scheme == "internet-facing"


HTTPS = {"listen-ports": '[{"HTTPS": 443}]', "certificate-arn": OTHER_CERT}


def _lb(stack: Stack) -> Any:
    return stack.load_balancer


PL_A, PL_B = "pl-0123456789abcdef0", "pl-0fedcba9876543210"


def _prefix_lists(stack: Stack) -> list[str]:
    assert stack.security_group is not None
    return [r.prefix_list_id for r in stack.security_group.prefix_list_ingress]


@pytest.mark.parametrize(
    ("params", "annotations", "read", "expected", "overridden"),
    [
        ({"inboundCIDRs": ["10.0.0.0/8"]}, {"inbound-cidrs": "192.168.0.0/16"},
         lambda s: {r.cidr for r in s.security_group.ingress}, {"10.0.0.0/8"}, "inbound-cidrs"),
        ({"certificateArn": [CERT]}, HTTPS,
         lambda s: s.listeners[0].certificates, (CERT,), "certificate-arn"),
        ({"sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
         {**HTTPS, "ssl-policy": "ELBSecurityPolicy-2016-08"},
         lambda s: s.listeners[0].ssl_policy, "ELBSecurityPolicy-TLS13-1-2-2021-06", "ssl-policy"),
        ({"sslRedirectPort": "443"},
         {"listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}, {"HTTPS": 8443}]',
          "certificate-arn": CERT, "ssl-redirect": "8443"},
         lambda s: s.listeners[0].default_actions[0].redirect_config.port, "443", "ssl-redirect"),
        ({"subnets": {"ids": ["subnet-0b", "subnet-0a"]}}, {"subnets": "subnet-0c,subnet-0d"},
         lambda s: _lb(s).subnets, ("subnet-0a", "subnet-0b"), "subnets"),
        ({"ipAddressType": "dualstack"}, {"ip-address-type": "ipv4"},
         lambda s: _lb(s).ip_address_type, "dualstack", "ip-address-type"),
        ({"loadBalancerName": "shop-web"}, {"load-balancer-name": "other-name"},
         lambda s: _lb(s).name, "shop-web", "load-balancer-name"),
        ({"targetType": "ip"}, {"target-type": "instance"},
         lambda s: s.target_groups[0].target_type, "ip", "target-type"),
        ({"wafv2AclArn": WEB_ACL}, {"wafv2-acl-arn": "none"},
         lambda s: _lb(s).wafv2.arn, WEB_ACL, "wafv2-acl-arn"),
        ({"wafv2AclName": "web"}, {"wafv2-acl-name": "other"},
         lambda s: _lb(s).wafv2.name, "web", "wafv2-acl-name"),
        ({"minimumLoadBalancerCapacity": {"capacityUnits": 200}},
         {"minimum-load-balancer-capacity": "CapacityUnits=100"},
         lambda s: _lb(s).minimum_load_balancer_capacity.capacity_units, 200,
         "minimum-load-balancer-capacity"),
        ({"ipamConfiguration": {"ipv4IPAMPoolId": "ipam-pool-0123456789abcdef0"}},
         {"ipam-ipv4-pool-id": "ipam-pool-0fedcba9876543210"},
         lambda s: _lb(s).ipam_pools.ipv4_ipam_pool_id, "ipam-pool-0123456789abcdef0",
         "ipam-ipv4-pool-id"),
        ({"prefixListsIDs": [PL_A]}, {"security-group-prefix-lists": PL_B},
         _prefix_lists, [PL_A], "security-group-prefix-lists"),
        ({"PrefixListsIDs": [PL_A]}, {"security-group-prefix-lists": PL_B},
         _prefix_lists, [PL_A], "security-group-prefix-lists"),
    ],
)  # fmt: skip
def test_each_field_replaces_its_annotation(
    params: dict[str, Any],
    annotations: dict[str, str],
    read: Any,
    expected: Any,
    overridden: str,
) -> None:
    app = ingress(annotations={PREFIX + k: v for k, v in annotations.items()})
    without = read(only_stack(plan_of(cluster({}, app))))
    assert without != expected  # the annotation alone gives something else
    plan = plan_of(cluster(params, app))
    assert read(only_stack(plan)) == expected
    assert overrides(plan) == [("default/app", field_of(overridden))]


def test_tags_merge_with_the_params_keys_winning_everywhere() -> None:
    app = ingress(annotations=ann(tags="team=shop,owner=ann"))
    svc = service(annotations=ann(tags="team=svc,tier=web"))
    state = ClusterState.from_objects(
        [ingress_class(params="web"), svc, app, ingress_class_params("web", {"tags": [
            {"key": "team", "value": "platform"}, {"key": "cost", "value": "42"}]})]
    )  # fmt: skip
    plan = build(state, ModelDefaults(cluster_name="test", default_tags={"cost": "default"}))
    stack = only_stack(plan)
    lb_tags = stack.load_balancer.tags
    assert (lb_tags["team"], lb_tags["owner"], lb_tags["cost"]) == ("platform", "ann", "default")
    tg_tags = stack.target_groups[0].tags
    assert (tg_tags["team"], tg_tags["tier"], tg_tags["owner"]) == ("platform", "web", "ann")
    assert overrides(plan) == [
        ("default/app", field_of("tags")),
        ("default/app", "service/svc." + field_of("tags")),
    ]


def test_load_balancer_attributes_merge_with_the_params_keys_winning() -> None:
    app = ingress(
        annotations=ann(
            load_balancer_attributes="idle_timeout.timeout_seconds=60,routing.http2.enabled=false"
        )
    )
    params = {"loadBalancerAttributes": [{"key": "idle_timeout.timeout_seconds", "value": "120"}]}
    plan = plan_of(cluster(params, app))
    assert only_stack(plan).load_balancer.attributes == {
        "idle_timeout.timeout_seconds": "120",
        "routing.http2.enabled": "false",
    }
    assert overrides(plan) == [("default/app", field_of("load-balancer-attributes"))]


def test_the_params_target_type_wins_over_the_services_annotation_too() -> None:
    svc = service(annotations=ann(target_type="instance"))
    state = ClusterState.from_objects(
        [ingress_class(params="web"), svc, ingress(),
         ingress_class_params("web", {"targetType": "ip"})]
    )  # fmt: skip
    plan = build(state, DEFAULTS)
    assert only_stack(plan).target_groups[0].target_type == "ip"
    assert overrides(plan) == [("default/app", "service/svc." + field_of("target-type"))]


def test_a_params_wafv2_arn_replaces_an_annotated_acl_name() -> None:
    plan = plan_of(cluster({"wafv2AclArn": WEB_ACL}, ingress(annotations=ann(wafv2_acl_name="x"))))
    wafv2 = only_stack(plan).load_balancer.wafv2
    assert wafv2 is not None
    assert wafv2.model_dump() == {"arn": WEB_ACL}
    assert overrides(plan) == [("default/app", field_of("wafv2-acl-name"))]


def test_a_bad_annotation_the_params_replace_is_not_read() -> None:
    # LBC does not read an annotation its class's params set: no error, a warning.
    app = ingress(annotations=ann(scheme="public"))
    assert [e.field for e in plan_of(cluster({}, app)).errors] == [field_of("scheme")]
    plan = plan_of(cluster({"scheme": "internal"}, app))
    assert only_stack(plan).load_balancer.scheme == "internal"
    assert overrides(plan) == [("default/app", field_of("scheme"))]
    assert "not read" in plan.warnings[0].message


def test_params_of_two_classes_in_one_group_must_agree_as_annotations_do() -> None:
    group = {PREFIX + "group.name": "shared"}
    state = ClusterState.from_objects(
        [
            ingress_class(params="web"),
            ingress_class("alb-public", params="public"),
            service(),
            ingress_class_params("web", {"scheme": "internal"}),
            ingress_class_params("public", {"scheme": "internet-facing"}),
            ingress("a", annotations=group),
            ingress("b", annotations=group, class_name="alb-public"),
        ]
    )
    plan = build(state, DEFAULTS)
    assert [s.ingresses for s in plan.stacks] == [("default/a",)]
    (error,) = plan.errors
    assert (error.ingress, error.field) == ("default/b", field_of("scheme"))
    assert "conflicts with Ingress default/a" in error.message


# --- namespaceSelector -------------------------------------------------------------------------


def two_namespaces(selector: dict[str, Any], *, labels: dict[str, str] | None = None) -> Plan:
    return plan_of(
        cluster(
            {"namespaceSelector": selector},
            namespace("shop", labels if labels is not None else {"team": "web", "tier": "front"}),
            namespace("other", {"team": "data"}),
            service(namespace="shop"),
            service(namespace="other"),
            ingress("app", "shop"),
            ingress("app", "other", rules=[rule("other.example.com", path("/"))]),
        )
    )


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"team": "web"}},
        {"matchExpressions": [{"key": "team", "operator": "In", "values": ["web", "shop"]}]},
        {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["data"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        {"matchLabels": {"team": "web"},
         "matchExpressions": [{"key": "tier", "operator": "Exists"}]},
    ],
)  # fmt: skip
def test_the_namespace_selector_refuses_other_namespaces(selector: dict[str, Any]) -> None:
    plan = two_namespaces(selector)
    assert [s.id for s in plan.stacks] == ["shop/app"]
    (error,) = plan.errors
    assert (error.ingress, error.field) == (
        "other/app",
        "IngressClassParams/web spec.namespaceSelector",
    )
    assert "namespace 'other'" in error.message and "IngressClass 'alb'" in error.message


def test_does_not_exist_refuses_a_namespace_with_the_label() -> None:
    plan = two_namespaces({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})
    assert [s.id for s in plan.stacks] == ["other/app"]
    assert [e.ingress for e in plan.errors] == ["shop/app"]


def test_every_requirement_must_hold() -> None:
    selector = {
        "matchLabels": {"team": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}],
    }
    plan = two_namespaces(selector)
    assert plan.stacks == ()
    messages = {e.ingress: e.message for e in plan.errors}
    assert (
        "matchExpressions[0] (tier In back) does not hold: it has tier=front"
        in messages["shop/app"]
    )
    assert "it does not have the label team=web" in messages["other/app"]


def test_an_empty_selector_selects_every_namespace() -> None:
    assert len(two_namespaces({}).stacks) == 2


def test_a_namespace_not_given_has_only_its_name_label() -> None:
    # The API server labels every namespace with its name; plan -f may lack the Namespace.
    by_name = {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}
    plan = plan_of(cluster({"namespaceSelector": by_name}, service(namespace="shop"),
                           ingress("app", "shop")))  # fmt: skip
    assert [s.id for s in plan.stacks] == ["shop/app"]
    plan = plan_of(cluster({"namespaceSelector": {"matchLabels": {"team": "web"}}},
                           service(namespace="shop"), ingress("app", "shop")))  # fmt: skip
    assert "(its labels are unknown)" in plan.errors[0].message


def test_a_malformed_selector_is_an_error_naming_its_field() -> None:
    bad = {"matchExpressions": [{"key": "team", "operator": "In"}]}
    plan = plan_of(cluster({"namespaceSelector": bad}, ingress()))
    (error,) = plan.errors
    assert error.field == "IngressClassParams/web spec.namespaceSelector.matchExpressions[0]"
    assert "needs at least one value" in error.message


# --- group.name ---------------------------------------------------------------------------------


def test_group_name_puts_every_ingress_of_the_class_in_one_group() -> None:
    plan = plan_of(
        cluster(
            {"group": {"name": "shared"}},
            service(namespace="shop"),
            ingress("a", "shop"),
            ingress("b", "default", rules=[rule("b.example.com", path("/"))],
                    annotations={PREFIX + "group.name": "elsewhere"}),
        )
    )  # fmt: skip
    stack = only_stack(plan)
    assert (stack.id, stack.ingresses) == ("shared", ("default/b", "shop/a"))
    assert overrides(plan) == [("default/b", field_of("group.name"))]


def test_group_order_is_still_read_from_the_annotation() -> None:
    plan = plan_of(
        cluster(
            {"group": {"name": "shared"}},
            ingress("a", annotations={PREFIX + "group.order": "5"}),
            ingress("b", rules=[rule("b.example.com", path("/"))],
                    annotations={PREFIX + "group.order": "-5"}),
        )
    )  # fmt: skip
    assert only_stack(plan).ingresses == ("default/b", "default/a")


def test_an_invalid_group_name_in_the_params_is_an_error_on_each_ingress() -> None:
    plan = plan_of(cluster({"group": {"name": "Not_Valid"}}, ingress("a"), ingress("b")))
    assert plan.stacks == ()
    assert [(e.ingress, e.field) for e in plan.errors] == [
        ("default/a", "IngressClassParams/web spec.group.name"),
        ("default/b", "IngressClassParams/web spec.group.name"),
    ]


# --- invalid params ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "where", "says"),
    [
        ({"scheme": "public"}, "spec.scheme", "invalid value 'public'"),
        ({"inboundCIDRs": ["10.0.0.0"]}, "spec.inboundCIDRs", "needs a /prefix length"),
        ({"certificateArn": ["not-an-arn"]}, "spec.certificateArn", "is not an ARN"),
        ({"sslRedirectPort": "https"}, "spec.sslRedirectPort", "invalid value 'https'"),
        ({"loadBalancerName": "-bad-"}, "spec.loadBalancerName", "hyphen"),
        ({"tags": [{"key": "aws:x", "value": "1"}]}, "spec.tags", "aws: prefix"),
        ({"tags": {"team": "web"}}, "spec.tags", "valid list"),
        ({"targetType": "lambda"}, "spec.targetType", "invalid value 'lambda'"),
        ({"wafv2AclArn": "arn:aws:wafv2:us-east-1:111122223333:global/webacl/x/1"},
         "spec.wafv2AclArn", "regional"),
        ({"subnets": {"tags": {" ": ["1"]}}}, "spec.subnets.tags", "a tag key is empty"),
        ({"listeners": [{"protocol": "TCP", "port": 80}]}, "spec.listeners[0].protocol", "HTTP"),
        ({"PrefixListsIDs": "pl-1"}, "spec.PrefixListsIDs", "valid list"),
    ],
)  # fmt: skip
def test_invalid_params_are_an_error_on_every_ingress_of_the_class(
    params: dict[str, Any], where: str, says: str
) -> None:
    other_class = ingress("c", rules=[rule("c.example.com", path("/"))], class_name="plain")
    state = cluster(params, ingress("a"), ingress("b", "shop"), other_class,
                    service(namespace="shop"), ingress_class("plain"))  # fmt: skip
    plan = build(state, DEFAULTS)
    assert [s.id for s in plan.stacks] == ["default/c"]  # another class is unaffected
    assert [(e.ingress, e.field) for e in plan.errors] == [
        ("default/a", f"IngressClassParams/web {where}"),
        ("shop/b", f"IngressClassParams/web {where}"),
    ]
    assert says in plan.errors[0].message, plan.errors[0].message


def test_a_class_naming_params_that_do_not_exist_is_refused() -> None:
    plan = plan_of(cluster(None, ingress()))
    (error,) = plan.errors
    assert error.field == "IngressClass/alb spec.parameters.name"
    assert "IngressClassParams 'web' does not exist" in error.message


def test_a_class_naming_another_kind_of_parameters_is_refused() -> None:
    odd = ingress_class()
    odd["spec"]["parameters"] = {"apiGroup": "example.com", "kind": "Config", "name": "x"}
    plan = build(ClusterState.from_objects([odd, service(), ingress()]), DEFAULTS)
    (error,) = plan.errors
    assert error.field == "IngressClass/alb spec.parameters"
    assert "reads only IngressClassParams of elbv2.k8s.aws" in error.message


def test_subnet_tags_replace_the_subnets_annotation_with_a_tag_filter() -> None:
    app = ingress(annotations=ann(subnets="subnet-0c,subnet-0d"))
    params = {"subnets": {"tags": {"tier": ["edge", "web", "edge"], "team": []}}}
    plan = plan_of(cluster(params, app))
    balancer = only_stack(plan).load_balancer
    assert balancer.subnets is None
    assert balancer.subnet_tags == {"team": (), "tier": ("edge", "web")}
    assert plan.model_dump(by_alias=True, mode="json")["stacks"][0]["loadBalancer"][
        "subnetTags"
    ] == {"team": [], "tier": ["edge", "web"]}
    assert overrides(plan) == [("default/app", field_of("subnets"))]


def test_without_subnet_tags_the_plan_has_no_subnet_tags_field() -> None:
    plan = plan_of(cluster({"scheme": "internal"}, ingress()))
    dumped = plan.model_dump(by_alias=True, mode="json")
    assert "subnetTags" not in dumped["stacks"][0]["loadBalancer"]


SERVER_HEADER = "routing.http.response.server.enabled"
LISTENERS = [{"protocol": "HTTPS", "port": 443, "listenerAttributes": [
    {"key": SERVER_HEADER, "value": "false"}]}]  # fmt: skip


def test_listener_attributes_merge_with_the_params_keys_winning() -> None:
    own = {**HTTPS, "listener-attributes.HTTPS-443":
           f"{SERVER_HEADER}=true,routing.http.xff_header_processing.mode=remove"}  # fmt: skip
    app = ingress(annotations={PREFIX + k: v for k, v in own.items()})
    plan = plan_of(cluster({"listeners": LISTENERS}, app))
    [listener] = only_stack(plan).listeners
    assert listener.attributes == {
        SERVER_HEADER: "false",  # the class's value
        "routing.http.xff_header_processing.mode": "remove",  # the Ingress's other key stays
    }
    assert overrides(plan) == [("default/app", field_of("listener-attributes.HTTPS-443"))]


def test_params_listener_attributes_for_a_port_an_ingress_lacks_are_not_reported() -> None:
    # The class names an HTTPS listener; this Ingress has only HTTP: nothing to warn about.
    plan = plan_of(cluster({"listeners": LISTENERS}, ingress()))
    [listener] = only_stack(plan).listeners
    assert listener.port == 80 and listener.attributes == {}
    assert plan.warnings == ()


def test_bad_listener_attributes_in_the_params_name_the_field() -> None:
    listeners = [{"protocol": "HTTP", "port": 80, "listenerAttributes": [
        {"key": "no such-attribute!", "value": "1"}]}]  # fmt: skip
    plan = plan_of(cluster({"listeners": listeners}, ingress()))
    (error,) = plan.errors
    assert error.field == "IngressClassParams/web spec.listeners[0].listenerAttributes"
    assert "not a listener attribute key" in error.message


def test_bad_capacity_in_the_params_names_the_field() -> None:
    plan = plan_of(cluster({"minimumLoadBalancerCapacity": {"capacityUnits": 5}}, ingress()))
    (error,) = plan.errors
    assert error.field == "IngressClassParams/web spec.minimumLoadBalancerCapacity.capacityUnits"


# --- what params do not touch -----------------------------------------------------------------


def test_a_class_without_params_builds_as_before() -> None:
    app = ingress(annotations=ann(scheme="internet-facing", tags="team=shop"))
    plain = build(ClusterState.from_objects([ingress_class(), service(), app]), DEFAULTS)
    with_unused = build(
        ClusterState.from_objects(
            [ingress_class(), service(), app, ingress_class_params("web", {"scheme": "internal"})]
        ),
        DEFAULTS,
    )
    assert with_unused == plain
    assert plain.stacks[0].load_balancer.scheme == "internet-facing"


def test_params_that_cannot_be_read_leave_the_class_without_params() -> None:
    # No IngressClassParams CRD in the cluster (the kube layer logs it): as without params.
    app = ingress(annotations=ann(scheme="internet-facing"))
    state = ClusterState(
        ingresses=(app,),
        services=(service(),),
        ingress_classes=(ingress_class(params="web"),),
        ingress_class_params=None,
    )
    stack = only_stack(build(state, DEFAULTS))
    assert stack.load_balancer.scheme == "internet-facing"


def test_the_legacy_annotation_has_no_class_so_no_params() -> None:
    legacy = ingress(annotations={"kubernetes.io/ingress.class": "alb"}, class_name=None)
    stack = only_stack(plan_of(cluster({"scheme": "internet-facing"}, legacy)))
    assert stack.load_balancer.scheme == "internal"


def test_the_default_class_brings_its_params() -> None:
    default = ingress_class("default-alb", default=True, params="web")
    state = ClusterState.from_objects(
        [default, service(), ingress(class_name=None),
         ingress_class_params("web", {"scheme": "internet-facing"})]
    )  # fmt: skip
    assert only_stack(build(state, DEFAULTS)).load_balancer.scheme == "internet-facing"


# --- the parsed view and the CRD ----------------------------------------------------------------


def test_parse_never_raises_on_garbage() -> None:
    for spec in ("text", [1], {"scheme": 5, "tags": [{"key": 1}]}, {"group": "x"}):
        parsed = parse_params({"kind": "IngressClassParams", "metadata": {"name": "x"},
                               "spec": spec})  # fmt: skip
        assert parsed.errors, spec
        assert all(f.startswith("IngressClassParams/x spec") for f, _ in parsed.errors)


def test_each_params_object_is_checked_once_per_build() -> None:
    params = ingress_class_params("web", {"scheme": "internal"})
    index = ParamsIndex([params], [])
    first = index.imposed("shop", ingress_class(params="web"))
    second = index.imposed("other", ingress_class(params="web"))
    assert first.params is second.params


def test_the_crd_serves_every_field_the_model_reads() -> None:
    # A field missing from the shipped schema would be pruned by the API server: silently
    # lost. The documented fields are the CRD's too.
    crd = yaml.safe_load((REPO / "deploy/manifests/ingressclassparams-crd.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    read = {f.alias or name for name, f in IngressClassParamsSpec.model_fields.items()}
    assert read == set(spec)
    documented = {f.path.split(".")[1] for f in FIELDS}
    assert documented | {"PrefixListsIDs"} == set(spec)
