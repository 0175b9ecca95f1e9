"""IngressClassParams on the real control plane: an IngressClass naming params (scheme
internet-facing, a tag, a namespaceSelector) with an Ingress in a selected namespace (its ALB
has the scheme and the tag) and one outside (a Warning naming namespaceSelector, nothing
made); editing the params' scheme replaces the ALB. Params with subnet tag filters and
listener attributes place an internet-facing ALB in the subnets the tags pick and set the
listener's attribute over the Ingress's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from sandbox import objects
from tests.e2e.harness import Scenario, ingress_body, wait_until

GROUP, VERSION, PLURAL = "elbv2.k8s.aws", "v1beta1", "ingressclassparams"


@pytest.fixture
def names(scenario: Scenario) -> Iterator[str]:
    """A name for the test's IngressClass and IngressClassParams; both deleted afterwards
    (after the scenario's Ingresses: the fixture order tears this down first, but deleting
    a class leaves its Ingresses' finalizers to the controller, which still runs)."""
    name = f"params-{scenario.suffix}"
    yield name
    custom = client.CustomObjectsApi(scenario.target.api)
    for delete in (
        lambda: scenario.net.delete_ingress_class(name),
        lambda: custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name),
    ):
        try:
            delete()
        except client.ApiException as error:
            if error.status != 404:
                raise


def _tags(scenario: Scenario, arn: str) -> dict[str, str]:
    described = scenario.aws("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"]
    return {t["Key"]: t["Value"] for t in described[0]["Tags"]}


def _ingress(namespace: str, host: str, class_name: str) -> dict[str, Any]:
    body = ingress_body(namespace, "web", [(host, "/", "web")])
    body["spec"]["ingressClassName"] = class_name
    return body


def test_class_params_set_scheme_and_tags_and_refuse_other_namespaces(
    scenario: Scenario, running: object, names: str
) -> None:
    selected = scenario.namespace("params-in")
    outside = scenario.namespace("params-out")
    label = {"params-e2e": scenario.suffix}
    scenario.core.patch_namespace(selected, {"metadata": {"labels": label}})
    custom = client.CustomObjectsApi(scenario.target.api)
    spec = {
        "namespaceSelector": {"matchLabels": label},
        "scheme": "internet-facing",
        "tags": [{"key": "params-e2e", "value": scenario.suffix}],
    }
    custom.create_cluster_custom_object(
        GROUP, VERSION, PLURAL, objects.ingress_class_params(names, spec)
    )
    scenario.net.create_ingress_class(objects.ingress_class(names, params=names))
    for namespace in (selected, outside):
        scenario.app(namespace, "web")
    # An annotation the params override: the params' scheme wins, with a Warning.
    inside = _ingress(selected, f"in-{scenario.suffix}.example.com", names)
    inside["metadata"]["annotations"] = {"alb.ingress.kubernetes.io/scheme": "internal"}
    scenario.create([inside, _ingress(outside, f"out-{scenario.suffix}.example.com", names)])

    hostname = scenario.hostname(selected, "web")
    lb = scenario.load_balancer(hostname)
    assert lb["Scheme"] == "internet-facing"
    assert _tags(scenario, lb["LoadBalancerArn"])["params-e2e"] == scenario.suffix
    overridden = wait_until(
        lambda: [e for e in scenario.events(selected, "web")
                 if e.reason == "IngressClassParamsOverride"],
        "an IngressClassParamsOverride Warning on the selected Ingress",
    )  # fmt: skip
    assert "alb.ingress.kubernetes.io/scheme" in overridden[0].message

    refused = wait_until(
        lambda: [e for e in scenario.events(outside, "web")
                 if e.type == "Warning" and e.reason == "FailedBuildModel"],
        "a FailedBuildModel Warning on the Ingress outside the selector",
    )  # fmt: skip
    assert f"IngressClassParams/{names} spec.namespaceSelector" in refused[0].message
    assert scenario.stack_resources(f"{outside}/web") == []
    out = scenario.read_ingress(outside, "web")
    assert not (out.status.load_balancer and out.status.load_balancer.ingress)
    assert not out.metadata.finalizers  # nothing made, nothing held

    # The params' scheme changes: the ALB is replaced by an internal one, the old one goes.
    custom.patch_cluster_custom_object(
        GROUP, VERSION, PLURAL, names, {"spec": {"scheme": "internal"}}
    )

    def replaced() -> str | None:
        now = scenario.hostname(selected, "web")
        return now if now != hostname else None

    new_hostname = wait_until(replaced, "a new hostname after the scheme edit", timeout=60)
    assert scenario.load_balancer(new_hostname)["Scheme"] == "internal"
    wait_until(
        lambda: [a for a in scenario.stack_resources(f"{selected}/web") if ":loadbalancer/" in a]
        == [scenario.load_balancer(new_hostname)["LoadBalancerArn"]],
        "the internet-facing ALB to be deleted",
    )  # fmt: skip
    scenario.finish()


SERVER_HEADER = "routing.http.response.server.enabled"


def test_class_params_choose_subnets_by_tags_and_set_listener_attributes(
    scenario: Scenario, running: object, names: str
) -> None:
    namespace = scenario.namespace("params-tags")
    custom = client.CustomObjectsApi(scenario.target.api)
    # The private subnets' role tag, on an internet-facing ALB: only the filter picks them.
    internal_role = "kubernetes.io/role/internal-elb"
    spec = {
        "scheme": "internet-facing",
        "subnets": {"tags": {internal_role: ["1"]}},
        "listeners": [{"protocol": "HTTP", "port": 80, "listenerAttributes": [
            {"key": SERVER_HEADER, "value": "false"}]}],
    }  # fmt: skip
    custom.create_cluster_custom_object(
        GROUP, VERSION, PLURAL, objects.ingress_class_params(names, spec)
    )
    scenario.net.create_ingress_class(objects.ingress_class(names, params=names))
    scenario.app(namespace, "web")
    body = _ingress(namespace, f"tags-{scenario.suffix}.example.com", names)
    body["metadata"]["annotations"] = {
        "alb.ingress.kubernetes.io/listener-attributes.HTTP-80": f"{SERVER_HEADER}=true"
    }
    scenario.create([body])

    lb = scenario.load_balancer(scenario.hostname(namespace, "web"))
    ec2 = scenario.aws("ec2")
    private = {
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[{"Name": f"tag:{internal_role}", "Values": ["1"]},
                     {"Name": "vpc-id", "Values": [lb["VpcId"]]}]
        )["Subnets"]
    }  # fmt: skip
    assert {z["SubnetId"] for z in lb["AvailabilityZones"]} == private
    assert lb["Scheme"] == "internet-facing"
    elbv2 = scenario.aws("elbv2")
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    attributes = elbv2.describe_listener_attributes(ListenerArn=listener["ListenerArn"])
    assert {a["Key"]: a["Value"] for a in attributes["Attributes"]}[SERVER_HEADER] == "false"
    overridden = wait_until(
        lambda: [e for e in scenario.events(namespace, "web")
                 if e.reason == "IngressClassParamsOverride"],
        "an IngressClassParamsOverride Warning naming the listener attribute",
    )  # fmt: skip
    assert "listener-attributes.HTTP-80" in overridden[0].message
    scenario.finish()
