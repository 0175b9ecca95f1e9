"""The slim service models (`controller.aws.models`): clients made from them have a method
for each operation the controller calls and none of the rest, answer moto as the full models
do, and resolve the same endpoints in every partition."""

from __future__ import annotations

import boto3
import pytest
from botocore import xform_name
from moto import mock_aws

from controller.aws.models import OPERATIONS, slim_service_model, slim_session

REGIONS = ("us-east-1", "eu-west-1", "us-gov-west-1", "cn-north-1")
SERVICES = (*sorted(OPERATIONS), "sts")


@pytest.fixture(scope="module")
def slim() -> boto3.Session:
    return slim_session("us-east-1")


def test_every_listed_operation_has_its_method_and_nothing_else(slim: boto3.Session) -> None:
    for service, operations in OPERATIONS.items():
        client = slim.client(service, region_name="us-east-1")  # type: ignore[call-overload]
        model = client.meta.service_model
        assert set(model.operation_names) == set(operations), service
        for operation in operations:
            assert callable(getattr(client, xform_name(operation))), f"{service}.{operation}"
    ec2 = slim.client("ec2", region_name="us-east-1")
    assert not hasattr(ec2, "run_instances")  # cut: the model no longer has it


def test_error_shapes_stay_for_client_exceptions(slim: boto3.Session) -> None:
    full = boto3.Session(region_name="us-east-1").client("elbv2")
    cut = slim.client("elbv2", region_name="us-east-1")
    names = {shape.name for shape in cut.meta.service_model.error_shapes}
    assert names == {shape.name for shape in full.meta.service_model.error_shapes}
    assert issubclass(cut.exceptions.LoadBalancerNotFoundException, Exception)


def test_the_documentation_is_dropped(slim: boto3.Session) -> None:
    client = slim.client("elbv2", region_name="us-east-1")
    operation = client.meta.service_model.operation_model("CreateLoadBalancer")
    assert operation.documentation == ""
    shape = operation.input_shape
    assert shape is not None and "Subnets" in shape.members


@pytest.mark.parametrize("region", REGIONS)
def test_endpoints_resolve_as_with_the_full_table(slim: boto3.Session, region: str) -> None:
    full = boto3.Session(region_name=region)
    for service in SERVICES:
        if service == "shield" and region != "us-east-1":
            continue  # one endpoint, in us-east-1 (AwsClients pins it)
        ours = slim.client(service, region_name=region)  # type: ignore[call-overload]
        theirs = full.client(service, region_name=region)  # type: ignore[call-overload]
        assert ours.meta.endpoint_url == theirs.meta.endpoint_url, (service, region)
        assert ours.meta.region_name == theirs.meta.region_name, (service, region)


def test_calls_round_trip_through_moto(slim: boto3.Session) -> None:
    with mock_aws():
        ec2 = boto3.Session(region_name="us-east-1").client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")
        cut = slim.client("ec2", region_name="us-east-1")
        subnets = cut.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        assert [s["CidrBlock"] for s in subnets] == ["10.9.1.0/24"]
        with pytest.raises(cut.exceptions.ClientError, match=r"InvalidGroup\.NotFound"):
            cut.describe_security_groups(GroupIds=["sg-0123456789abcdef0"])


def test_a_member_named_documentation_is_kept() -> None:
    model = {
        "operations": {"Put": {"input": {"shape": "In", "documentation": "x"}}},
        "shapes": {
            "In": {
                "type": "structure",
                "documentation": "the input",
                "members": {"documentation": {"shape": "S", "documentation": "y"}},
            },
            "S": {"type": "string", "documentation": "z"},
            "Unused": {"type": "string"},
        },
    }
    slim_service_model(model, frozenset({"Put"}))
    assert model["shapes"] == {
        "In": {"type": "structure", "members": {"documentation": {"shape": "S"}}},
        "S": {"type": "string"},
    }
    assert model["operations"] == {"Put": {"input": {"shape": "In"}}}
