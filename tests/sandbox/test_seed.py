"""The whole sandbox (`Sandbox`): moto seeded as aws-load-balancer-controller expects an
account to be, Nodes backed by EC2 instances (kwok keeps them Ready), the controller's
identity and IngressClass from deploy/manifests, and the environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from sandbox.controlplane import ControlPlane
from sandbox.runner import CONTROLLER_USER, Sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    path = tmp_path_factory.mktemp("seed") / "kubeconfig"
    with Sandbox(
        cluster_name="seedtest", nodes=3, kubeconfig=path, control_plane=control_plane
    ) as running:
        yield running


def _tags(resource: dict[str, object]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or ()}  # type: ignore[attr-defined]


def test_subnets_are_tagged_by_role_and_cluster_in_two_zones(sandbox: Sandbox) -> None:
    assert sandbox.aws is not None
    ec2 = sandbox.aws.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [sandbox.aws.vpc_id]}])
    by_role: dict[str, set[str]] = {}
    for subnet in subnets["Subnets"]:
        tags = _tags(subnet)
        assert tags["kubernetes.io/cluster/seedtest"] == "shared"
        role = "public" if "kubernetes.io/role/elb" in tags else "private"
        assert (
            tags.get(f"kubernetes.io/role/{'elb' if role == 'public' else 'internal-elb'}") == "1"
        )
        by_role.setdefault(role, set()).add(subnet["AvailabilityZone"])
    assert by_role == {"public": {"us-east-1a", "us-east-1b"},
                       "private": {"us-east-1a", "us-east-1b"}}  # fmt: skip
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [sandbox.aws.vpc_id]}]
    )["InternetGateways"]
    assert len(gateways) == 1


def test_the_wildcard_certificate_is_issued(sandbox: Sandbox) -> None:
    assert sandbox.aws is not None
    acm = sandbox.aws.client("acm")
    cert = acm.describe_certificate(CertificateArn=sandbox.aws.certificate_arn)["Certificate"]
    assert cert["Status"] == "ISSUED"
    assert cert["DomainName"] == "*.example.com"


def test_public_and_private_zones_for_example_com(sandbox: Sandbox) -> None:
    assert sandbox.aws is not None
    route53 = sandbox.aws.client("route53")
    zones = {
        z["Id"].rsplit("/", 1)[-1]: (z["Name"], z["Config"]["PrivateZone"])
        for z in route53.list_hosted_zones()["HostedZones"]
    }
    assert zones[sandbox.aws.public_zone_id] == ("example.com.", False)
    assert zones[sandbox.aws.private_zone_id] == ("example.com.", True)
    vpcs = route53.get_hosted_zone(Id=sandbox.aws.private_zone_id)["VPCs"]
    assert [v["VPCId"] for v in vpcs] == [sandbox.aws.vpc_id]


def test_nodes_are_ec2_instances_in_the_private_subnets(sandbox: Sandbox) -> None:
    assert sandbox.aws is not None and sandbox.api is not None
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    listed: list[Any] = client.CoreV1Api(api).list_node().items
    nodes = [n for n in listed if n.metadata.name in sandbox.nodes]
    api.close()
    assert len(nodes) == 3
    reservations = sandbox.aws.client("ec2").describe_instances()["Reservations"]
    instances = {i["InstanceId"]: i for r in reservations for i in r["Instances"]}
    private = {s.id: s.zone for s in sandbox.aws.private_subnets}
    for node in nodes:
        _, _, _, zone, instance_id = node.spec.provider_id.split("/")
        instance = instances[instance_id]
        assert private[instance["SubnetId"]] == zone
        assert node.metadata.labels["topology.kubernetes.io/zone"] == zone
        assert [a.address for a in node.status.addresses if a.type == "InternalIP"] == [
            instance["PrivateIpAddress"]
        ]
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [
            sandbox.aws.node_security_group
        ]


def test_the_ingress_class_is_the_deployed_one(sandbox: Sandbox) -> None:
    manifest = yaml.safe_load((REPO / "deploy" / "manifests" / "ingressclass.yaml").read_text())
    assert sandbox.api is not None
    stored = client.NetworkingV1Api(sandbox.api).read_ingress_class("alb")
    assert stored.spec.controller == manifest["spec"]["controller"] == "ingress.k8s.aws/alb"


def test_the_controller_kubeconfig_is_the_shipped_service_account(sandbox: Sandbox) -> None:
    api = config.new_client_from_config(config_file=str(sandbox.controller_kubeconfig))
    try:
        review = client.AuthenticationV1Api(api).create_self_subject_review({})
        assert review.status.user_info.username == CONTROLLER_USER
        # Granted by the ClusterRole: list Ingresses (and Secrets, for OIDC). Not granted:
        # reading ConfigMaps, or writing Secrets.
        client.NetworkingV1Api(api).list_ingress_for_all_namespaces(limit=1)
        with pytest.raises(client.ApiException) as denied:
            client.CoreV1Api(api).list_config_map_for_all_namespaces(limit=1)
        assert denied.value.status == 403
        with pytest.raises(client.ApiException) as denied:
            client.CoreV1Api(api).create_namespaced_secret(
                "default", {"metadata": {"name": "nope"}}
            )
        assert denied.value.status == 403
    finally:
        api.close()


def test_the_exports_are_shell_sourceable(sandbox: Sandbox) -> None:
    shell = subprocess.run(
        ["bash", "-c", f'{sandbox.exports()}\nenv'],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    env = dict(line.split("=", 1) for line in shell.stdout.splitlines() if "=" in line)
    assert env["KUBECONFIG"] == str(sandbox.kubeconfig)
    assert env["CONTROLLER_KUBECONFIG"] == str(sandbox.controller_kubeconfig)
    assert env["AWS_ENDPOINT_URL"] == sandbox.aws_endpoint_url
    assert env["CLUSTER_NAME"] == "seedtest"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
