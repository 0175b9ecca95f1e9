"""iam/policy.json against the AWS operations the controller calls, and its least-privilege
shape: reads unconditioned only where AWS offers no resource scoping, every ELBv2/EC2 write
scoped by the elbv2.k8s.aws/cluster tag to the role's own cluster, Route 53 changes limited to
hosted zones and to the record types the controller writes, nothing else.

The resource types and ARN formats come from cfn-lint's bundled copy of AWS's Service
Authorization Reference, so a statement whose Resource or tag condition can never match an
action is caught here rather than as AccessDenied in a cluster.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import botocore.session
import pytest

from controller.aws.models import OPERATIONS

from .artefacts import POLICIES, load_policy, load_policy_file
from .aws_operations import (
    EXPECTED_AWS_ACTIONS,
    EXPECTED_AWS_OPERATIONS,
    IAM_PREFIX,
    iam_action,
    logged_operation,
    scan,
)
from .recorded_run import RecordedRun, log_records

CLUSTER_TAG = "elbv2.k8s.aws/cluster"
# The role's own cluster: a tag on the role (iam/controller-role.yaml sets it).
OWN_CLUSTER = "${aws:PrincipalTag/elbv2.k8s.aws/cluster}"
OWN_VPC = "arn:aws:ec2:*:*:vpc/${aws:PrincipalTag/alb-ingress-controller/vpc-id}"
# Managed IAM policies are limited to 6,144 characters without whitespace.
MANAGED_POLICY_LIMIT = 6144

Statement = dict[str, Any]


def statements() -> list[Statement]:
    result: list[Statement] = load_policy()["Statement"]
    return result


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(("Describe", "List", "Get"))


@cache
def authorization_reference() -> dict[str, Any]:
    """cfn-lint's snapshot of the Service Authorization Reference, keyed by IAM prefix."""
    text = (resources.files("cfnlint.data.AdditionalSpecs") / "Policies.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def resource_types(action: str) -> list[dict[str, Any]]:
    """The resource types an action is authorised against (empty: only Resource "*")."""
    prefix, name = action.split(":", 1)
    service = authorization_reference()[prefix]
    kinds = service["Actions"][name.lower()].get("Resources", [])
    return [service["Resources"][kind] for kind in kinds]


def arn_matches(pattern: str, arn_format: str) -> bool:
    """Whether a policy Resource pattern can name resources of this ARN format."""
    regex = (
        arn_format.replace("${Partition}", "aws")
        .replace("${Region}", "[^:]*")
        .replace("${Account}", "[^:]*")
    )
    return re.fullmatch(regex, pattern) is not None


def test_expected_operations_are_real_boto3_operations() -> None:
    session = botocore.session.get_session()
    for operation in EXPECTED_AWS_OPERATIONS:
        client, _, name = operation.partition(".")
        assert name in session.get_service_model(client).operation_names, operation


def test_the_scan_attributes_every_use_to_a_client() -> None:
    assert scan().unresolved == []


def test_the_scan_finds_methods_paginators_and_uncalled_references() -> None:
    found = scan().operations
    assert "elbv2.CreateLoadBalancer" in found  # self._elbv2.create_load_balancer(...)
    assert "resourcegroupstaggingapi.GetResources" in found  # tagging.get_paginator(...)
    assert "route53.ChangeResourceRecordSets" in found  # passed uncalled to a retry helper
    assert "route53.GetChange" not in found  # never waited for


def test_the_scan_misses_nothing_the_real_run_called(recorded_run: RecordedRun) -> None:
    called = {
        op
        for record in log_records(recorded_run)
        if record["logger"] == "controller.aws.clients"
        and (op := logged_operation(record["message"]))
    }
    # A deploy and a teardown with DNS: most of the layer, and every service.
    assert {c.partition(".")[0] for c in called} >= {
        "elbv2",
        "ec2",
        "route53",
        "resourcegroupstaggingapi",
    }
    assert len(called) >= 15
    assert sorted(called - scan().operations) == []


def test_iam_action_maps_boto3_operations() -> None:
    assert iam_action("elbv2.CreateLoadBalancer") == "elasticloadbalancing:CreateLoadBalancer"
    assert iam_action("resourcegroupstaggingapi.GetResources") == "tag:GetResources"
    assert set(IAM_PREFIX.values()) == {a.split(":")[0] for a in EXPECTED_AWS_ACTIONS}
    with pytest.raises(ValueError, match=r"sts\.GetCallerIdentity"):
        iam_action("sts.GetCallerIdentity")


def test_policy_allows_every_expected_action() -> None:
    granted = {a for s in statements() for a in as_list(s["Action"])}
    assert sorted(EXPECTED_AWS_ACTIONS - granted) == []


def test_policy_grants_nothing_unexpected() -> None:
    granted = {a for s in statements() for a in as_list(s["Action"])}
    assert sorted(granted - EXPECTED_AWS_ACTIONS) == []


def test_policy_shape_is_plain_allow_with_exact_actions() -> None:
    policy = load_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in statements()]
    assert len(sids) == len(set(sids))
    for statement in statements():
        assert statement.keys() <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert statement["Effect"] == "Allow"
        assert not [a for a in as_list(statement["Action"]) if "*" in a], statement["Sid"]


def test_policy_fits_a_managed_policy() -> None:
    for path in POLICIES:
        compact = json.dumps(load_policy_file(path), separators=(",", ":"))
        assert len(re.sub(r"\s", "", compact)) <= MANAGED_POLICY_LIMIT, path.name


def test_every_action_exists_in_aws() -> None:
    for action in EXPECTED_AWS_ACTIONS:
        prefix, name = action.split(":", 1)
        assert name.lower() in authorization_reference()[prefix]["Actions"], action


# Writes for which AWS offers neither a resource type nor a condition key to scope by, so
# they can only be granted on "*". Each is harmless alone: SetWebAcl is checked besides a WAF
# association whose wafv2/waf-regional action is resource-scoped; a Shield protection only
# protects (and costs nothing beyond the subscription).
UNSCOPABLE_WRITES = frozenset({"elasticloadbalancing:SetWebAcl", "shield:CreateProtection"})


def test_unscoped_statements_are_reads_aws_cannot_scope() -> None:
    for statement in statements():
        if statement["Resource"] == "*" and "Condition" not in statement:
            for action in as_list(statement["Action"]):
                assert is_read(action) or action in UNSCOPABLE_WRITES, (
                    f"{statement['Sid']}: {action} unscoped"
                )


def test_unscopable_writes_really_have_nothing_to_scope_by() -> None:
    for action in UNSCOPABLE_WRITES:
        prefix, name = action.split(":", 1)
        entry = authorization_reference()[prefix]["Actions"][name.lower()]
        assert resource_types(action) == [], action
        assert not entry.get("ConditionKeys"), action


def test_resources_name_each_actions_resource_type() -> None:
    for statement in statements():
        for pattern in as_list(statement["Resource"]):
            if pattern == "*":
                continue
            for action in as_list(statement["Action"]):
                formats = [f for kind in resource_types(action) for f in kind["ARNFormats"]]
                assert any(arn_matches(pattern, f) for f in formats), (
                    f"{statement['Sid']}: {pattern} is no resource of {action}"
                )


def tag_conditions(statement: Statement) -> dict[str, str]:
    """The statement's StringEquals conditions on the cluster tag, by context key."""
    equals = statement.get("Condition", {}).get("StringEquals", {})
    return {k: v for k, v in equals.items() if k.endswith(f"Tag/{CLUSTER_TAG}")}


# Writes that touch resources the cluster did not create, so no cluster tag can scope them.
# They are scoped to the cluster's VPC instead: the VPC a security group is made in, and the
# node security groups the ALB's backend group is opened into.
VPC_SCOPED: dict[str, dict[str, Any]] = {
    "Ec2CreateSecurityGroupInClusterVpc": {"Resource": OWN_VPC},
    "Ec2OpenNodeSecurityGroupsInClusterVpc": {"Condition": {"ArnLike": {"ec2:Vpc": OWN_VPC}}},
}
# The targets of a TargetGroupBinding's target group, which Terraform (or another tool) made
# without our tags, so no tag of ours can scope them, and ELBv2 has no VPC condition key.
# The most that can be required: no other cluster's tag (an untagged group, or one of ours).
UNTAGGED_OR_OWN: dict[str, dict[str, Any]] = {
    "ElbRegisterTargetsOfBoundTargetGroups": {
        "Action": [
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:RegisterTargets",
        ],
        "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
        "Condition": {"StringEqualsIfExists": {f"aws:ResourceTag/{CLUSTER_TAG}": OWN_CLUSTER}},
    },
}


def test_every_elbv2_and_ec2_write_is_scoped_to_the_own_cluster() -> None:
    for statement in statements():
        writes = [
            a
            for a in as_list(statement["Action"])
            if a.startswith(("elasticloadbalancing:", "ec2:"))
            and not is_read(a)
            and a not in UNSCOPABLE_WRITES
        ]
        if not writes:
            continue
        if statement["Sid"] in VPC_SCOPED:
            assert VPC_SCOPED[statement["Sid"]].items() <= statement.items()
            continue
        if statement["Sid"] in UNTAGGED_OR_OWN:
            assert UNTAGGED_OR_OWN[statement["Sid"]].items() <= statement.items()
            continue
        conditions = tag_conditions(statement)
        assert conditions, f"{statement['Sid']}: {writes} not scoped by the cluster tag"
        assert set(conditions.values()) == {OWN_CLUSTER}, statement["Sid"]


def test_resource_tag_conditions_can_match() -> None:
    # aws:ResourceTag only scopes an action if each of its resource types carries tags.
    for statement in statements():
        if f"aws:ResourceTag/{CLUSTER_TAG}" not in tag_conditions(statement):
            continue
        for action in as_list(statement["Action"]):
            kinds = resource_types(action)
            assert kinds, f"{action} has no resource to read a tag from"
            for kind in kinds:
                assert "aws:ResourceTag/${TagKey}" in kind.get("ConditionKeys", []), action


def test_creates_require_the_own_cluster_tag_in_the_request() -> None:
    creates = {
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "ec2:CreateSecurityGroup",
    }
    for statement in statements():
        for action in set(as_list(statement["Action"])) & creates:
            if statement["Sid"] in VPC_SCOPED:
                continue
            assert f"aws:RequestTag/{CLUSTER_TAG}" in tag_conditions(statement), action


def test_tagging_on_create_is_allowed_for_each_create() -> None:
    # Since 2023 AWS checks AddTags/CreateTags when a Create* call carries tags.
    (elb,) = [s for s in statements() if s["Sid"] == "ElbTagOnCreate"]
    assert elb["Action"] == ["elasticloadbalancing:AddTags"]
    created = elb["Condition"]["StringEquals"]["elasticloadbalancing:CreateAction"]
    assert set(created) == {
        a.split(":")[1] for a in EXPECTED_AWS_ACTIONS if a.startswith("elasticloadbalancing:Create")
    }
    (ec2,) = [s for s in statements() if s["Sid"] == "Ec2TagSecurityGroupOnCreate"]
    assert ec2["Condition"]["StringEquals"]["ec2:CreateAction"] == "CreateSecurityGroup"


def test_existing_resources_cannot_change_owner() -> None:
    # Re-tagging may not set the cluster tag, untagging may not remove it.
    for statement in statements():
        actions = set(as_list(statement["Action"]))
        conditions = statement.get("Condition", {})
        if actions & {"elasticloadbalancing:AddTags", "ec2:CreateTags"} and (
            f"aws:ResourceTag/{CLUSTER_TAG}" in tag_conditions(statement)
        ):
            assert conditions["Null"] == {f"aws:RequestTag/{CLUSTER_TAG}": "true"}
        if actions & {"elasticloadbalancing:RemoveTags", "ec2:DeleteTags"}:
            assert conditions["ForAllValues:StringNotEquals"] == {"aws:TagKeys": [CLUSTER_TAG]}


def test_route53_changes_only_hosted_zone_records_the_controller_writes() -> None:
    (change,) = [
        s for s in statements() if "route53:ChangeResourceRecordSets" in as_list(s["Action"])
    ]
    assert change["Resource"] == "arn:aws:route53:::hostedzone/*"
    types = change["Condition"]["ForAllValues:StringEquals"]
    assert types == {"route53:ChangeResourceRecordSetsRecordTypes": ["A", "AAAA", "TXT"]}


def test_acm_is_read_only() -> None:
    acm = {a for s in statements() for a in as_list(s["Action"]) if a.startswith("acm:")}
    assert acm and all(is_read(a) for a in acm)


def test_the_slim_models_keep_every_operation_called() -> None:
    # The clients are made from models cut to `OPERATIONS` (controller/aws/models.py): an
    # operation the code calls and the list lacks would have no method in production.
    listed = {f"{client}.{op}" for client, ops in OPERATIONS.items() for op in ops}
    assert sorted(scan().operations - listed) == []
    assert sorted(listed - scan().operations) == []
