"""The AWS operations the controller can call, found in its code: the list iam/policy.json is
held to.

`scan` reads every module of `controller/aws/` with `ast` and finds each boto3 operation used
on a client: a method (`self._elbv2.create_load_balancer(...)`, or passed on uncalled, as
`self._client.change_resource_record_sets`) or a paginator (`get_paginator("describe_...")`).
The client is known by the name it is reached through (`elbv2`, `_ec2`, `clients.tagging`, ...,
see `RECEIVERS`); method names are mapped to API operation names through botocore's own
service models, so a name that is no operation of that client is not one. A use the scan
cannot attribute to a client is reported, not guessed (`Scan.unresolved`).

A scan can miss a call made in a way it does not read, so tests/ship/test_iam.py also checks
that every operation the recorded real run logged (AWS_DEBUG) is in the scan. Operations are
written `<boto3 client>.<Operation>`; `iam_action` turns them into IAM actions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

from .artefacts import REPO

AWS_LAYER = REPO / "controller" / "aws"

# boto3 client name -> IAM service prefix. For these services every API operation is
# authorised by the IAM action of the same name.
IAM_PREFIX: dict[str, str] = {
    "elbv2": "elasticloadbalancing",
    "ec2": "ec2",
    "resourcegroupstaggingapi": "tag",
    "acm": "acm",
    "route53": "route53",
    "wafv2": "wafv2",
    "waf-regional": "waf-regional",
    "shield": "shield",
}

# The names clients are reached through in controller/aws (AwsClients' properties, with or
# without a leading underscore) -> boto3 client name.
RECEIVERS: dict[str, str] = {
    "elbv2": "elbv2",
    "ec2": "ec2",
    "acm": "acm",
    "route53": "route53",
    "tagging": "resourcegroupstaggingapi",
    "wafv2": "wafv2",
    "wafregional": "waf-regional",
    "shield": "shield",
}
# controller/aws/dns is handed only the Route 53 client (`Route53Dns(clients.route53, ...)`)
# and keeps it as `client`/`_client`.
PACKAGE_CLIENTS: dict[str, str] = {"dns": "route53"}

# AWS layer log lines name clients by AwsClients' short names (controller.aws.clients.SERVICES).
SHORT_NAMES = {"tagging": "resourcegroupstaggingapi", "wafregional": "waf-regional"}

# No action is granted beyond the operations called. Tagging on create is authorised by AWS as
# elasticloadbalancing:AddTags (Create* with Tags, enforced since 2023) and ec2:CreateTags
# (CreateSecurityGroup with TagSpecifications); the policy grants those in their own
# statements, and both are also called directly, so both are in the scan.


@cache
def operations_of(client: str) -> dict[str, str]:
    """boto3 method name -> API operation name, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(client)
    return {xform_name(name): name for name in model.operation_names}


@dataclass
class Scan:
    operations: set[str] = field(default_factory=set)  # `<client>.<Operation>`
    unresolved: list[str] = field(default_factory=list)  # `file:line name` not attributable


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr.lstrip("_")
    if isinstance(node, ast.Name):
        return node.id.lstrip("_")
    return None


def _client_of(receiver: str | None, module: Path) -> str | None:
    if receiver in RECEIVERS:
        return RECEIVERS[receiver]
    if receiver == "client":
        package = module.relative_to(AWS_LAYER).parts[0]
        return PACKAGE_CLIENTS.get(package)
    return None


def scan_module(path: Path, found: Scan) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(REPO)
    every_op = {name for c in IAM_PREFIX for name in operations_of(c)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_paginator"
        ):
            client = _client_of(_receiver(node.func.value), path)
            (arg,) = node.args
            name = arg.value if isinstance(arg, ast.Constant) else None
            if client is None or not isinstance(name, str) or name not in operations_of(client):
                found.unresolved.append(f"{where}:{node.lineno} get_paginator")
            else:
                found.operations.add(f"{client}.{operations_of(client)[name]}")
        elif isinstance(node, ast.Attribute) and node.attr in every_op:
            client = _client_of(_receiver(node.value), path)
            if client is not None and node.attr in operations_of(client):
                found.operations.add(f"{client}.{operations_of(client)[node.attr]}")
            elif client is None:
                found.unresolved.append(f"{where}:{node.lineno} {node.attr}")


@cache
def scan() -> Scan:
    found = Scan()
    for path in sorted(AWS_LAYER.rglob("*.py")):
        scan_module(path, found)
    return found


def iam_action(operation: str) -> str:
    """`elbv2.CreateLoadBalancer` -> `elasticloadbalancing:CreateLoadBalancer`."""
    client, _, name = operation.partition(".")
    if client not in IAM_PREFIX or not name:
        raise ValueError(
            f"{operation!r}: expected <boto3 client>.<Operation>, client one of "
            f"{sorted(IAM_PREFIX)}"
        )
    return f"{IAM_PREFIX[client]}:{name}"


def logged_operation(message: str) -> str | None:
    """An AWS_DEBUG line `aws call elbv2.CreateLoadBalancer {...}` -> `elbv2.CreateLoadBalancer`."""
    if not message.startswith("aws call "):
        return None
    short, _, operation = message.split()[2].partition(".")
    return f"{SHORT_NAMES.get(short, short)}.{operation}"


EXPECTED_AWS_OPERATIONS: frozenset[str] = frozenset(scan().operations)
# Actions AWS also checks on behalf of a call, though no operation of that name is made:
# associating a web ACL with (or removing it from) an ALB is authorised as the ALB's
# elasticloadbalancing:SetWebAcl too (WAF developer guide, "permissions for associating").
IMPLIED_ACTIONS: dict[str, frozenset[str]] = {
    "wafv2:AssociateWebACL": frozenset({"elasticloadbalancing:SetWebAcl"}),
    "wafv2:DisassociateWebACL": frozenset({"elasticloadbalancing:SetWebAcl"}),
    "waf-regional:AssociateWebACL": frozenset({"elasticloadbalancing:SetWebAcl"}),
    "waf-regional:DisassociateWebACL": frozenset({"elasticloadbalancing:SetWebAcl"}),
}
_CALLED_ACTIONS = frozenset(map(iam_action, EXPECTED_AWS_OPERATIONS))
EXPECTED_AWS_ACTIONS: frozenset[str] = _CALLED_ACTIONS.union(
    *(IMPLIED_ACTIONS.get(action, frozenset()) for action in _CALLED_ACTIONS)
)
