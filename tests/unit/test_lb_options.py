"""The model of LBC v3.5's load balancer, listener and security group options: what reaches
the `Stack`, and that a stack asking for none of them has the JSON (and digest) it had
before they existed."""

from __future__ import annotations

import json

from controller.model.stack import Stack

from .factories import ann, ingress, plan, service

PL = "pl-0123456789abcdef0"


def only_stack(*annotation_maps: dict[str, str]) -> Stack:
    merged: dict[str, str] = {}
    for values in annotation_maps:
        merged.update(values)
    result = plan(ingress(annotations=merged), service())
    assert result.errors == ()
    (stack,) = result.stacks
    return stack


def test_a_stack_without_the_options_leaves_their_keys_out_of_its_json() -> None:
    data = json.loads(only_stack({}).model_dump_json())
    assert set(data["loadBalancer"]) == {
        "name",
        "scheme",
        "ipAddressType",
        "subnets",
        "securityGroups",
        "attributes",
        "tags",
    }
    assert "prefixListIngress" not in data["securityGroup"]
    assert all("attributes" not in listener for listener in data["listeners"])


def test_the_options_round_trip_through_the_plan_json() -> None:
    stack = only_stack(
        ann(
            security_group_prefix_lists=PL,
            customer_owned_ipv4_pool="ipv4pool-coip-0abc",
            ipam_ipv4_pool_id="ipam-pool-0abc",
            minimum_load_balancer_capacity="CapacityUnits=150",
        ),
        {"alb.ingress.kubernetes.io/listener-attributes.HTTP-80": "a.b=c"},
    )
    again = Stack.model_validate_json(stack.model_dump_json())
    assert again == stack
    assert again.digest() == stack.digest()
    assert again.listeners[0].attributes == {"a.b": "c"}
    assert again.load_balancer.minimum_load_balancer_capacity is not None
    assert again.load_balancer.minimum_load_balancer_capacity.capacity_units == 150


def test_a_changed_attribute_changes_the_digest() -> None:
    key = "alb.ingress.kubernetes.io/listener-attributes.HTTP-80"
    first = only_stack({key: "routing.http.response.server.enabled=false"})
    second = only_stack({key: "routing.http.response.server.enabled=true"})
    assert first.digest() != second.digest()


def test_prefix_lists_of_a_dualstack_alb_open_no_cidr_of_either_family() -> None:
    stack = only_stack(ann(security_group_prefix_lists=PL, ip_address_type="dualstack"))
    assert stack.security_group is not None
    assert stack.security_group.ingress == ()
    assert [(r.port, r.prefix_list_id) for r in stack.security_group.prefix_list_ingress] == [
        (80, PL)
    ]


def test_prefix_lists_are_a_set_within_a_group() -> None:
    """The same lists in another order are the same value: no conflict, one order."""
    group = {"alb.ingress.kubernetes.io/group.name": "g"}
    first = ingress(
        "a", annotations={**group, **ann(security_group_prefix_lists=f"{PL}, pl-1234abcd")}
    )
    second = ingress(
        "b", annotations={**group, **ann(security_group_prefix_lists=f"pl-1234abcd,{PL}")}
    )
    result = plan(first, second, service())
    assert result.errors == ()
    (stack,) = result.stacks
    assert stack.security_group is not None
    assert [r.prefix_list_id for r in stack.security_group.prefix_list_ingress] == [
        "pl-0123456789abcdef0",
        "pl-1234abcd",
    ]


def test_a_blank_capacity_or_ipam_pool_is_as_if_absent() -> None:
    stack = only_stack(ann(minimum_load_balancer_capacity="", ipam_ipv4_pool_id=" "))
    assert stack.load_balancer.minimum_load_balancer_capacity is None
    assert stack.load_balancer.ipam_pools is None
