"""AWS on loopback: moto's server (a child process, or a thread), seeded with what a real EKS
account would hold.

The seed is what aws-load-balancer-controller's discovery expects of a cluster, so the
controller runs against it with no extra configuration:
- a VPC (10.0.0.0/16) with an internet gateway;
- public subnets in two AZs tagged `kubernetes.io/role/elb=1`, private subnets tagged
  `kubernetes.io/role/internal-elb=1`, all tagged `kubernetes.io/cluster/<cluster>=shared`;
- a node security group, and EC2 instances for Nodes (`launch_node`) in the private subnets,
  whose CIDRs are also the pod CIDRs (as with the AWS VPC CNI);
- a public and a private hosted zone for `example.com` (the private one in the VPC);
- an ISSUED ACM certificate for `*.example.com`: moto's requested certificates stay
  PENDING_VALIDATION for a minute, an imported one is ISSUED at once, so a self-signed
  certificate is generated and imported.

`leaks` is the scan the demo and the e2e tests end with: everything still tagged for the
cluster (tagging API, security groups) and every Route 53 record whose ownership TXT names
the cluster.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.server import ThreadedMotoServer

from sandbox import motofixes
from sandbox.processes import answers, die_with_parent, free_port
from sandbox.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b")
VPC_CIDR = "10.0.0.0/16"
PUBLIC_CIDRS = ("10.0.0.0/20", "10.0.16.0/20")
PRIVATE_CIDRS = ("10.0.64.0/18", "10.0.128.0/18")
DOMAIN = "example.com"
AMI = "ami-12c6146b"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
# Placeholder credentials: moto accepts any, and botocore refuses to sign without some.
ACCESS_KEY = "sandbox"
SECRET_KEY = "sandbox"


def credentials_env() -> dict[str, str]:
    """The AWS variables a client of the loopback endpoint needs (besides the URL)."""
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }


class MotoServer:
    """moto's `ThreadedMotoServer` in this process, on 127.0.0.1 and a free port; `url` once
    started. moto keeps one state per process: see `MotoProcess` for isolation."""

    def __init__(self, port: int = 0) -> None:
        # moto would load thousands of AMIs into every EC2 backend (it reads this when it
        # makes one); the sandbox needs none.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.url = ""

    def start(self) -> MotoServer:
        motofixes.apply()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Wipe moto's state, then stop: moto keeps one state per process, shared by every
        server in it, so a later sandbox in this process starts from nothing."""
        if self.url:
            request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
            with urllib.request.urlopen(request, timeout=10):
                pass
        self._server.stop()


@dataclass(frozen=True)
class Subnet:
    id: str
    zone: str
    cidr: str


@dataclass(frozen=True)
class NodeSpec:
    """An EC2 instance as the workload simulator's `add_node` wants it."""

    name: str
    provider_id: str
    private_ip: str
    instance_id: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeededAws:
    """IDs of what `seed` made, and boto3 clients for the endpoint."""

    endpoint_url: str
    cluster_name: str
    vpc_id: str
    public_subnets: tuple[Subnet, ...]
    private_subnets: tuple[Subnet, ...]
    node_security_group: str
    public_zone_id: str
    private_zone_id: str
    certificate_arn: str

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint_url)

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        return tuple(s.cidr for s in self.private_subnets)


def aws_client(service: str, endpoint_url: str | None) -> Any:
    """A boto3 client for `service`: the loopback endpoint with placeholder credentials, or
    (endpoint None) the ambient AWS configuration, for a real account."""
    if endpoint_url is None:
        return boto3.client(service)  # type: ignore[call-overload]
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def _tags(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def self_signed_certificate(domain: str) -> tuple[bytes, bytes]:
    """A PEM certificate and key for `domain` (and its wildcard), valid for a year."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def seed(endpoint_url: str, cluster_name: str) -> SeededAws:
    """Create the VPC, subnets, gateway, node group, hosted zones and certificate."""
    ec2 = aws_client("ec2", endpoint_url)
    cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
    vpc_id = ec2.create_vpc(
        CidrBlock=VPC_CIDR,
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": _tags({"Name": f"{cluster_name}-vpc", **cluster_tag})}
        ],
    )["Vpc"]["VpcId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)

    def subnets(cidrs: tuple[str, ...], role: str, kind: str) -> tuple[Subnet, ...]:
        made = []
        for zone, cidr in zip(ZONES, cidrs, strict=True):
            tags = {"Name": f"{cluster_name}-{kind}-{zone}", role: "1", **cluster_tag}
            subnet_id = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=cidr,
                AvailabilityZone=zone,
                TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(tags)}],
            )["Subnet"]["SubnetId"]
            made.append(Subnet(subnet_id, zone, cidr))
        return tuple(made)

    public = subnets(PUBLIC_CIDRS, "kubernetes.io/role/elb", "public")
    private = subnets(PRIVATE_CIDRS, "kubernetes.io/role/internal-elb", "private")
    node_sg = ec2.create_security_group(
        GroupName=f"{cluster_name}-nodes",
        Description="sandbox node group",
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(cluster_tag)}],
    )["GroupId"]

    route53 = aws_client("route53", endpoint_url)
    public_zone = route53.create_hosted_zone(Name=DOMAIN, CallerReference=f"{cluster_name}-pub")
    private_zone = route53.create_hosted_zone(
        Name=DOMAIN,
        CallerReference=f"{cluster_name}-priv",
        VPC={"VPCRegion": REGION, "VPCId": vpc_id},
        HostedZoneConfig={"Comment": "sandbox private zone", "PrivateZone": True},
    )

    cert, key = self_signed_certificate(f"*.{DOMAIN}")
    certificate_arn = aws_client("acm", endpoint_url).import_certificate(
        Certificate=cert, PrivateKey=key
    )["CertificateArn"]
    return SeededAws(
        endpoint_url=endpoint_url,
        cluster_name=cluster_name,
        vpc_id=vpc_id,
        public_subnets=public,
        private_subnets=private,
        node_security_group=node_sg,
        public_zone_id=public_zone["HostedZone"]["Id"].rsplit("/", 1)[-1],
        private_zone_id=private_zone["HostedZone"]["Id"].rsplit("/", 1)[-1],
        certificate_arn=certificate_arn,
    )


def launch_node(aws: SeededAws, index: int) -> NodeSpec:
    """Run an EC2 instance for Node number `index` (AZs alternate) and describe it."""
    subnet = aws.private_subnets[index % len(aws.private_subnets)]
    name = f"ip-node-{index}.ec2.internal"
    instance = aws.client("ec2").run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.medium",
        SubnetId=subnet.id,
        SecurityGroupIds=[aws.node_security_group],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": _tags({"Name": name, f"kubernetes.io/cluster/{aws.cluster_name}": "owned"}),
            }
        ],
    )["Instances"][0]
    ip = instance["PrivateIpAddress"]
    node_name = f"ip-{ip.replace('.', '-')}.ec2.internal"
    return NodeSpec(
        name=node_name,
        provider_id=f"aws:///{subnet.zone}/{instance['InstanceId']}",
        private_ip=ip,
        instance_id=instance["InstanceId"],
        labels={"node.kubernetes.io/instance-type": "t3.medium"},
    )


def terminate_node(aws: SeededAws, instance_id: str) -> None:
    aws.client("ec2").terminate_instances(InstanceIds=[instance_id])


def tagged_resources(endpoint_url: str | None, cluster_name: str) -> list[str]:
    """ARNs and IDs of everything still tagged for the cluster (tagging API + EC2 groups)."""
    tagging = aws_client("resourcegroupstaggingapi", endpoint_url)
    found = [
        m["ResourceARN"]
        for page in tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": CLUSTER_TAG, "Values": [cluster_name]}]
        )
        for m in page["ResourceTagMappingList"]
    ]
    groups = aws_client("ec2", endpoint_url).describe_security_groups(
        Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster_name]}]
    )["SecurityGroups"]
    return found + [g["GroupId"] for g in groups]


def owned_records(endpoint_url: str | None, cluster_name: str) -> list[tuple[str, str, str]]:
    """(zone, name, type) of ownership TXT records naming the cluster and the records they
    own, across every hosted zone."""
    route53 = aws_client("route53", endpoint_url)
    marker = f"alb-ingress-controller/cluster={cluster_name},"
    found: list[tuple[str, str, str]] = []
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page["HostedZones"]:
            records = [
                r
                for p in route53.get_paginator("list_resource_record_sets").paginate(
                    HostedZoneId=zone["Id"]
                )
                for r in p["ResourceRecordSets"]
            ]
            owners = {
                r["Name"]
                for r in records
                if r["Type"] == "TXT"
                and any(marker in v["Value"] for v in r.get("ResourceRecords") or ())
            }
            # `_alb-a.H` owns the A record of H: report both, so a half-done delete shows.
            owned = {o.split(".", 1)[1] for o in owners if o.startswith("_alb-")}
            for r in records:
                if r["Name"] in owners or (r["Name"] in owned and r["Type"] in ("A", "AAAA")):
                    found.append((zone["Name"], r["Name"], r["Type"]))
    return found


def leaks(endpoint_url: str | None, cluster_name: str) -> list[str]:
    """Everything AWS still holds for the cluster, as readable lines (empty when clean)."""
    lines = tagged_resources(endpoint_url, cluster_name)
    lines += [
        f"{t} {name} in zone {zone}" for zone, name, t in owned_records(endpoint_url, cluster_name)
    ]
    return lines


class MotoProcess(MotoServer):
    """moto's server as a child process on 127.0.0.1 (same interface as `MotoServer`): its
    state, CPU and memory are its own, so sandboxes in one process never share AWS."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoProcess:
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
        self.proc = subprocess.Popen(
            # moto's server with its AWS-faithfulness corrections (sandbox.motofixes).
            [sys.executable, "-m", "sandbox.motofixes", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            cwd=REPO,  # `sandbox` is a package of the repository, not an installed one
        )
        proc = self.proc

        def running() -> None:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited with status {proc.returncode} at start")

        wait_until(lambda: answers(self.url + "/moto-api/data.json"),
                   f"moto to answer on {self.url}", 60, 0.1, alive=running)  # fmt: skip
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
