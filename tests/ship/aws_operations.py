"""The AWS operations the controller calls: the one list the IAM policy is checked against.

Each entry is a boto3 operation as `<boto3 client name>.<OperationName>` (the API operation
name, as botocore's service model spells it). `IAM_PREFIX` maps the client name to the IAM
service prefix, so `elbv2.CreateLoadBalancer` needs `elasticloadbalancing:CreateLoadBalancer`.
For these services every API operation is authorised by the IAM action of the same name.

Today the list is what the AWS layer is specified to call. Replace it with what the code
calls (the call counter's record across the AWS-layer tests, or a static list those tests
prove complete); tests/ship/test_iam.py then holds iam/policy.json to it.
"""

from __future__ import annotations

# boto3 client name -> IAM service prefix.
IAM_PREFIX: dict[str, str] = {
    "elbv2": "elasticloadbalancing",
    "ec2": "ec2",
    "resourcegroupstaggingapi": "tag",
    "acm": "acm",
    "route53": "route53",
}

_ELBV2_READ = (
    "DescribeLoadBalancers",
    "DescribeTargetGroups",
    "DescribeListeners",
    "DescribeRules",
    "DescribeTags",
    "DescribeTargetHealth",
    "DescribeLoadBalancerAttributes",
    "DescribeTargetGroupAttributes",
    "DescribeListenerCertificates",
)
_ELBV2_WRITE = (
    "CreateLoadBalancer",
    "DeleteLoadBalancer",
    "ModifyLoadBalancerAttributes",
    "SetSubnets",
    "SetSecurityGroups",
    "SetIpAddressType",
    "CreateTargetGroup",
    "DeleteTargetGroup",
    "ModifyTargetGroup",
    "ModifyTargetGroupAttributes",
    "RegisterTargets",
    "DeregisterTargets",
    "CreateListener",
    "DeleteListener",
    "ModifyListener",
    "AddListenerCertificates",
    "RemoveListenerCertificates",
    "CreateRule",
    "DeleteRule",
    "ModifyRule",
    "SetRulePriorities",
    "AddTags",
    "RemoveTags",
)
_EC2 = (
    "DescribeSubnets",
    "DescribeVpcs",
    "DescribeSecurityGroups",
    "DescribeInstances",
    "DescribeAvailabilityZones",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "CreateTags",
    "DeleteTags",
)

EXPECTED_AWS_OPERATIONS: frozenset[str] = frozenset(
    [f"elbv2.{op}" for op in _ELBV2_READ + _ELBV2_WRITE]
    + [f"ec2.{op}" for op in _EC2]
    + ["resourcegroupstaggingapi.GetResources"]
    + ["acm.ListCertificates", "acm.DescribeCertificate"]
    + [
        "route53.ListHostedZones",
        "route53.ListResourceRecordSets",
        "route53.ChangeResourceRecordSets",
        "route53.GetChange",
    ]
)


def iam_action(operation: str) -> str:
    """`elbv2.CreateLoadBalancer` -> `elasticloadbalancing:CreateLoadBalancer`."""
    client, _, name = operation.partition(".")
    if client not in IAM_PREFIX or not name:
        raise ValueError(
            f"{operation!r}: expected <boto3 client>.<Operation>, client one of "
            f"{sorted(IAM_PREFIX)}"
        )
    return f"{IAM_PREFIX[client]}:{name}"


EXPECTED_AWS_ACTIONS: frozenset[str] = frozenset(map(iam_action, EXPECTED_AWS_OPERATIONS))
