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
