"""ModelDefaults that change the output: DNS management, default scheme/target type/policy."""

from __future__ import annotations

from controller.config import ModelDefaults
from controller.model.annotations import PREFIX

from .factories import ingress, plan, service


def test_dns_records_are_left_out_when_dns_is_not_managed() -> None:
    result = plan(ingress(), service(), defaults=ModelDefaults(manage_dns=False))
    assert result.stacks[0].dns_records == ()


def test_controller_defaults_apply_when_annotations_are_absent() -> None:
    defaults = ModelDefaults(
        scheme="internet-facing",
        target_type="ip",
        ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        ip_address_type="dualstack",
    )
    arn = "arn:aws:acm:us-east-1:1:certificate/x"
    result = plan(
        ingress(annotations={PREFIX + "certificate-arn": arn}),
        service(type_="ClusterIP"),
        defaults=defaults,
    )
    assert result.errors == ()
    [stack] = result.stacks
    assert stack.load_balancer.scheme == "internet-facing"
    assert stack.load_balancer.ip_address_type == "dualstack"
    assert stack.target_groups[0].target_type == "ip"
    assert stack.listeners[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert [r.type for r in stack.dns_records] == ["A", "AAAA"]


def test_ip_targets_of_an_ipv6_service_get_an_ipv6_target_group() -> None:
    svc = service(type_="ClusterIP")
    svc["spec"]["ipFamilies"] = ["IPv6", "IPv4"]
    result = plan(ingress(annotations={PREFIX + "target-type": "ip"}), svc)
    assert result.stacks[0].target_groups[0].ip_address_type == "ipv6"


# --- aws-load-balancer-controller's flags that change what an Ingress may say ------------

EXTERNAL = ModelDefaults(cluster_name="test", external_managed_tags=("cost-center",))


def test_a_tag_managed_elsewhere_may_not_be_set_on_the_ingress_or_its_service() -> None:
    result = plan(ingress(annotations={PREFIX + "tags": "cost-center=42,team=web"}), service())
    assert result.errors == ()  # the control: without the setting the tag is fine
    result = plan(
        ingress(annotations={PREFIX + "tags": "cost-center=42,team=web"}),
        service(),
        defaults=EXTERNAL,
    )
    [error] = result.errors
    assert error.field == f"metadata.annotations[{PREFIX}tags]"
    assert "cost-center" in error.message and "EXTERNAL_MANAGED_TAGS" in error.message
    svc = service(annotations={PREFIX + "tags": "cost-center=7"})
    [error] = plan(ingress(), svc, defaults=EXTERNAL).errors
    assert error.field == f"service/svc.metadata.annotations[{PREFIX}tags]"
    assert (
        plan(
            ingress(annotations={PREFIX + "tags": "team=web"}), service(), defaults=EXTERNAL
        ).errors
        == ()
    )


NO_GROUP_NAME = ModelDefaults(cluster_name="test", disable_ingress_group_name_annotation=True)
NO_CLASS_ANNOTATION = ModelDefaults(cluster_name="test", disable_ingress_class_annotation=True)


def test_joining_a_group_by_annotation_is_refused_unless_already_a_member() -> None:
    grouped = {PREFIX + "group.name": "shop"}
    [error] = plan(ingress(annotations=grouped), service(), defaults=NO_GROUP_NAME).errors
    assert error.field == f"metadata.annotations[{PREFIX}group.name]"
    assert "DISABLE_INGRESS_GROUP_NAME_ANNOTATION" in error.message
    member = ingress(annotations=grouped, metadata={"finalizers": ["group.ingress.k8s.aws/shop"]})
    result = plan(member, service(), defaults=NO_GROUP_NAME)
    assert result.errors == () and [s.id for s in result.stacks] == ["shop"]
    # Moving to another group is a new use too.
    moved = ingress(
        annotations={PREFIX + "group.name": "other"},
        metadata={"finalizers": ["group.ingress.k8s.aws/shop"]},
    )
    assert [e.field for e in plan(moved, service(), defaults=NO_GROUP_NAME).errors] == [
        f"metadata.annotations[{PREFIX}group.name]"
    ]


def test_the_legacy_class_annotation_is_refused_unless_already_a_member() -> None:
    legacy = ingress(annotations={"kubernetes.io/ingress.class": "alb"}, class_name=None)
    [error] = plan(legacy, service(), defaults=NO_CLASS_ANNOTATION).errors
    assert error.field == "metadata.annotations[kubernetes.io/ingress.class]"
    assert "spec.ingressClassName" in error.message
    member = ingress(
        annotations={"kubernetes.io/ingress.class": "alb"},
        class_name=None,
        metadata={"finalizers": ["ingress.k8s.aws/resources"]},
    )
    assert plan(member, service(), defaults=NO_CLASS_ANNOTATION).errors == ()
    assert plan(ingress(), service(), defaults=NO_CLASS_ANNOTATION).errors == ()
