"""Slim service models: boto3 clients that know only the operations this controller calls.

botocore parses a service's whole JSON model for its first client and keeps it for the life
of the process: ec2's is 14 MiB of Python objects for the 10 operations used here, and the
table of every AWS endpoint (`endpoints.json`) another 7 MiB. `SlimFileLoader` is botocore's
own file loader with one change: as a model file is read it is cut to the operations in
`OPERATIONS`, the shapes they reach and the service's error shapes, and its documentation
strings are dropped; the endpoint table keeps the entries of the services in
`ENDPOINT_PREFIXES` only. A service not in `OPERATIONS` (STS, which the
credential chain may use for IRSA) keeps its whole model.

`OPERATIONS` is the list iam/policy.json is held to: tests/ship/test_iam.py checks it against
what an AST scan of `controller/aws/` finds and what a recorded run called, so an operation
added to the code and not here fails the tests, not production (a client has no method for an
operation cut from its model).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session

# boto3 client name -> the API operations called on it.
OPERATIONS: Mapping[str, frozenset[str]] = {
    "acm": frozenset({"DescribeCertificate", "ListCertificates"}),
    "ec2": frozenset(
        {
            "AuthorizeSecurityGroupIngress",
            "CreateSecurityGroup",
            "CreateTags",
            "DeleteSecurityGroup",
            "DeleteTags",
            "DescribeInstances",
            "DescribeManagedPrefixLists",
            "DescribeSecurityGroups",
            "DescribeSubnets",
            "RevokeSecurityGroupIngress",
        }
    ),
    "elbv2": frozenset(
        {
            "AddListenerCertificates",
            "AddTags",
            "CreateListener",
            "CreateLoadBalancer",
            "CreateRule",
            "CreateTargetGroup",
            "DeleteListener",
            "DeleteLoadBalancer",
            "DeleteRule",
            "DeleteTargetGroup",
            "DeregisterTargets",
            "DescribeCapacityReservation",
            "DescribeListenerAttributes",
            "DescribeListenerCertificates",
            "DescribeListeners",
            "DescribeLoadBalancerAttributes",
            "DescribeLoadBalancers",
            "DescribeRules",
            "DescribeTags",
            "DescribeTargetGroupAttributes",
            "DescribeTargetGroups",
            "DescribeTargetHealth",
            "DescribeTrustStores",
            "ModifyCapacityReservation",
            "ModifyIpPools",
            "ModifyListener",
            "ModifyListenerAttributes",
            "ModifyLoadBalancerAttributes",
            "ModifyRule",
            "ModifyTargetGroup",
            "ModifyTargetGroupAttributes",
            "RegisterTargets",
            "RemoveListenerCertificates",
            "RemoveTags",
            "SetIpAddressType",
            "SetRulePriorities",
            "SetSecurityGroups",
            "SetSubnets",
        }
    ),
    "resourcegroupstaggingapi": frozenset({"GetResources"}),
    "route53": frozenset(
        {
            "ChangeResourceRecordSets",
            "ListHostedZones",
            "ListResourceRecordSets",
            "ListTagsForResources",
        }
    ),
    "shield": frozenset(
        {"CreateProtection", "DeleteProtection", "DescribeProtection", "GetSubscriptionState"}
    ),
    "waf-regional": frozenset({"AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource"}),
    "wafv2": frozenset(
        {"AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource", "ListWebACLs"}
    ),
}

# The endpoint table's names (the models' `endpointPrefix`) of the services above, and of the
# ones botocore's credential providers call (STS for IRSA and assumed roles, SSO).
ENDPOINT_PREFIXES = frozenset(
    {
        "acm",
        "ec2",
        "elasticloadbalancing",
        "tagging",
        "route53",
        "shield",
        "waf-regional",
        "wafv2",
        "sts",
        "portal.sso",
        "oidc",
    }
)


class SlimFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's JSON file loader, cutting each model file it reads to what `OPERATIONS`
    uses. The cut copy is parsed anew from its own JSON, so that it lies in memory of its
    own and the whole model's memory is freed in one piece (cut in place, the few objects
    kept would pin the allocator's arenas the whole model filled)."""

    def load_file(self, file_path: str) -> Any:
        data = super().load_file(file_path)
        if data is None or not slim(data, Path(file_path)):
            return data
        return json.loads(json.dumps(data), object_pairs_hook=OrderedDict)


def slim(data: Any, path: Path) -> bool:
    """Cut `data`, the file at `path` of botocore's data folder, in place; False if it is
    kept whole. A model is `<service>/<api version>/service-2`."""
    if path.name == "endpoints" and isinstance(data, dict):
        slim_endpoints(data, ENDPOINT_PREFIXES)
        return True
    keep = OPERATIONS.get(path.parent.parent.name)
    if path.name != "service-2" or keep is None or not isinstance(data, dict):
        return False
    if "shapes" not in data or "operations" not in data:
        return False
    slim_service_model(data, keep)
    return True


def slim_service_model(model: dict[str, Any], keep: frozenset[str]) -> None:
    """Cut `model` in place to the operations in `keep`, the shapes they reach (and every
    error shape: `client.exceptions` is made of them) and no documentation. Idempotent."""
    operations = model["operations"]
    for name in [name for name in operations if name not in keep]:
        del operations[name]
    shapes = model["shapes"]
    reached: set[str] = set()
    pending = [name for name, shape in shapes.items() if shape.get("exception")]
    for operation in operations.values():
        pending.extend(ref["shape"] for ref in _refs(operation))
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(ref["shape"] for ref in _shape_refs(shapes[name]))
    for name in [name for name in shapes if name not in reached]:
        del shapes[name]
    # Only the docs of operations, shapes and their references: a member may be named
    # `documentation`, and botocore reads the docs of `clientContextParams`.
    documented = [
        *(entry for op in operations.values() for entry in (op, *_refs(op))),
        *(entry for shape in shapes.values() for entry in (shape, *_shape_refs(shape))),
    ]
    for entry in documented:
        entry.pop("documentation", None)
        entry.pop("documentationUrl", None)


def slim_endpoints(data: dict[str, Any], prefixes: frozenset[str]) -> None:
    """Keep, in each partition of botocore's endpoint table, the services in `prefixes`."""
    for partition in data.get("partitions", []):
        services = partition.get("services", {})
        for name in [name for name in services if name not in prefixes]:
            del services[name]


def _refs(operation: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The shape references of an operation: its input, output and errors."""
    for key in ("input", "output"):
        if key in operation:
            yield operation[key]
    yield from operation.get("errors", ())


def _shape_refs(shape: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The shape references of a shape: a list's member, a map's key and value, a
    structure's members."""
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]
    yield from shape.get("members", {}).values()


def slim_session(region: str) -> boto3.Session:
    """A boto3 session whose clients are made from the slim models."""
    core = botocore.session.get_session()
    # As botocore's own `create_loader`: AWS_DATA_PATH's folders are searched too.
    data_path = core.get_config_variable("data_path")
    extra = [os.path.expanduser(path) for path in data_path.split(os.pathsep)] if data_path else []
    loader = botocore.loaders.Loader(extra_search_paths=extra, file_loader=SlimFileLoader())
    core.register_component("data_loader", loader)
    return boto3.Session(botocore_session=core, region_name=region)
