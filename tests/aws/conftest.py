"""Fixtures for the AWS layer: in-process moto (made strict), a seeded VPC, and helpers.

The world: one VPC with public subnets (role elb) and private subnets (role internal-elb) in
two AZs tagged for our cluster, a decoy public subnet in a third AZ tagged for another
cluster, three node instances sharing a node security group, and a foreign ALB, target group
and security group that no scenario may change.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from controller.aws.clients import UNLIMITED, AwsClients
from controller.aws.deployer import Deployer
from controller.aws.models import slim_session
from tests.aws.stacks import CLUSTER
from tests.aws.strict import Strict

REGION = "us-east-1"
AMI = "ami-12c6146b"
# moto loads thousands of AMIs into every fresh EC2 backend unless told not to.
os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
# One boto3 session for every test: each new session parses the service models again (and
# mock_aws resets boto3's default session on every start).
SESSION = boto3.Session(region_name=REGION)
# The controller's clients are made from the slim models, as in production (`aws.models`);
# the tests' own setup calls use the full ones.
SLIM_SESSION = slim_session(REGION)


@dataclass
class World:
    vpc_id: str
    public: tuple[str, str]
    private: tuple[str, str]
    decoy_subnet: str
    node_sg: str
    nodes: list[str]
    foreign_lb: str
    foreign_tg: str
    foreign_sg: str
    ec2: Any
    elbv2: Any
    tagging: Any

    def add_node(self) -> str:
        instance = self.ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            SubnetId=self.private[0],
            SecurityGroupIds=[self.node_sg],
        )["Instances"][0]["InstanceId"]
        self.nodes.append(instance)
        return str(instance)

    def foreign_snapshot(self) -> str:
        """Everything about the foreign resources, as JSON, to compare before/after."""
        lb = self.elbv2.describe_load_balancers(LoadBalancerArns=[self.foreign_lb])
        listeners = self.elbv2.describe_listeners(LoadBalancerArn=self.foreign_lb)["Listeners"]
        rules = [
            self.elbv2.describe_rules(ListenerArn=li["ListenerArn"])["Rules"] for li in listeners
        ]
        tg = self.elbv2.describe_target_groups(TargetGroupArns=[self.foreign_tg])
        health = self.elbv2.describe_target_health(TargetGroupArn=self.foreign_tg)
        tags = self.elbv2.describe_tags(ResourceArns=[self.foreign_lb, self.foreign_tg])
        attrs = self.elbv2.describe_load_balancer_attributes(LoadBalancerArn=self.foreign_lb)
        sg = self.ec2.describe_security_groups(GroupIds=[self.foreign_sg])
        data = [
            lb["LoadBalancers"],
            listeners,
            rules,
            tg["TargetGroups"],
            health["TargetHealthDescriptions"],
            tags["TagDescriptions"],
            attrs["Attributes"],
            sg["SecurityGroups"],
        ]
        return json.dumps(data, sort_keys=True, default=str)

    def leaks(self) -> list[str]:
        """Every resource still tagged with the cluster, and node rules from our groups."""
        found = [
            m["ResourceARN"]
            for page in self.tagging.get_paginator("get_resources").paginate(
                TagFilters=[{"Key": "elbv2.k8s.aws/cluster", "Values": [CLUSTER]}]
            )
            for m in page["ResourceTagMappingList"]
        ]
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "tag:elbv2.k8s.aws/cluster", "Values": [CLUSTER]}]
        )["SecurityGroups"]
        found += [g["GroupId"] for g in groups]
        node = self.ec2.describe_security_groups(GroupIds=[self.node_sg])["SecurityGroups"][0]
        found += [
            f"node rule {pair['GroupId']}"
            for perm in node["IpPermissions"]
            for pair in perm.get("UserIdGroupPairs", [])
        ]
        return found


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Strict:
    rules = Strict()
    rules.install(monkeypatch)
    return rules


@pytest.fixture
def world(strict: Strict) -> Iterator[World]:
    with mock_aws():
        seeded = _seed()
        before = seeded.foreign_snapshot()
        yield seeded
        # Every scenario leaves what is not ours exactly as it was.
        assert seeded.foreign_snapshot() == before, "a foreign resource was changed"


def _subnet(ec2: Any, vpc: str, cidr: str, zone: str, tags: dict[str, str]) -> str:
    return str(
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=[
                {
                    "ResourceType": "subnet",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ],
        )["Subnet"]["SubnetId"]
    )


def _seed() -> World:
    ec2: Any = SESSION.client("ec2")
    elbv2: Any = SESSION.client("elbv2")
    tagging: Any = SESSION.client("resourcegroupstaggingapi")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ours = f"kubernetes.io/cluster/{CLUSTER}"
    public = (
        _subnet(
            ec2,
            vpc,
            "10.0.1.0/24",
            "us-east-1a",
            {"kubernetes.io/role/elb": "1", ours: "shared", "Name": "public-a"},
        ),
        _subnet(
            ec2,
            vpc,
            "10.0.2.0/24",
            "us-east-1b",
            {"kubernetes.io/role/elb": "", ours: "owned", "Name": "public-b"},
        ),
    )
    private = (
        _subnet(
            ec2,
            vpc,
            "10.0.11.0/24",
            "us-east-1a",
            {"kubernetes.io/role/internal-elb": "1", ours: "owned", "Name": "private-a"},
        ),
        _subnet(
            ec2,
            vpc,
            "10.0.12.0/24",
            "us-east-1b",
            {"kubernetes.io/role/internal-elb": "1", ours: "owned", "Name": "private-b"},
        ),
    )
    decoy = _subnet(
        ec2,
        vpc,
        "10.0.3.0/24",
        "us-east-1c",
        {"kubernetes.io/role/elb": "1", "kubernetes.io/cluster/other": "owned"},
    )
    node_sg = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=vpc)[
        "GroupId"
    ]
    nodes = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=AMI, MinCount=3, MaxCount=3, SubnetId=private[0], SecurityGroupIds=[node_sg]
        )["Instances"]
    ]
    foreign_sg = ec2.create_security_group(GroupName="foreign", Description="not ours", VpcId=vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=foreign_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    foreign_tags: Any = [
        {"Key": "elbv2.k8s.aws/cluster", "Value": "other-cluster"},
        {"Key": "ingress.k8s.aws/stack", "Value": "game-2048/ingress-2048"},
        {"Key": "ingress.k8s.aws/resource", "Value": "LoadBalancer"},
    ]
    foreign_lb = elbv2.create_load_balancer(
        Name="foreign-alb",
        Subnets=list(public),
        SecurityGroups=[foreign_sg],
        Scheme="internet-facing",
        Tags=foreign_tags,
    )["LoadBalancers"][0]["LoadBalancerArn"]
    foreign_tg = elbv2.create_target_group(
        Name="foreign-tg",
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        TargetType="instance",
        Tags=[
            {"Key": "elbv2.k8s.aws/cluster", "Value": "other-cluster"},
            {"Key": "ingress.k8s.aws/stack", "Value": "game-2048/ingress-2048"},
            {"Key": "ingress.k8s.aws/resource", "Value": "game-2048/ingress-2048-service-2048:80"},
        ],
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=foreign_lb,
        Port=80,
        Protocol="HTTP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": foreign_tg}],
    )
    elbv2.register_targets(TargetGroupArn=foreign_tg, Targets=[{"Id": nodes[0], "Port": 31000}])
    return World(
        vpc_id=vpc,
        public=public,
        private=private,
        decoy_subnet=decoy,
        node_sg=node_sg,
        nodes=nodes,
        foreign_lb=foreign_lb,
        foreign_tg=foreign_tg,
        foreign_sg=foreign_sg,
        ec2=ec2,
        elbv2=elbv2,
        tagging=tagging,
    )


@pytest.fixture
def clients(world: World) -> AwsClients:
    return AwsClients(REGION, rate_limits=UNLIMITED, session=SLIM_SESSION)


@pytest.fixture
def deployer(clients: AwsClients) -> Deployer:
    return Deployer(clients, CLUSTER, sleep=lambda _: None, sg_delete_timeout=30.0)


def import_certificate(domain: str, *sans: str) -> str:
    """An ISSUED ACM certificate (imported, self-signed) for `domain` and `sans`; its ARN."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in (domain, *sans)]), False
        )
        .sign(key, hashes.SHA256())
    )
    return str(
        SESSION.client("acm").import_certificate(
            Certificate=cert.public_bytes(serialization.Encoding.PEM),
            PrivateKey=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )["CertificateArn"]
    )
