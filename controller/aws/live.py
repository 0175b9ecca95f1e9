"""Live state by tags: the load balancers, target groups, listeners and rules of one stack.

A stack's load balancers and target groups are found with one Resource Groups Tagging API
query on the cluster and stack tags (which also returns their tags), never by listing every
load balancer in the region. Listeners and rules are read from the found load balancer, and
their tags with DescribeTags, 20 ARNs a call. The tagging API is eventually consistent, so an
ARN it returns may already be gone: such ARNs are dropped, not errors.

The periodic drift sweep (`stack_fingerprints`) reads the whole cluster at once instead: the
tagging API for every stack's resources, and the load balancers and target groups listed 400
a page, reduced to one digest per stack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.errors import about, has_code
from controller.aws.tags import from_aws
from controller.limits import DESCRIBE_CHUNK
from controller.model.stack import TAG_CLUSTER, TAG_STACK

TAGGING_PAGE = 100  # GetResources' ResourcesPerPage at most
LB_TYPE = "elasticloadbalancing:loadbalancer"
TG_TYPE = "elasticloadbalancing:targetgroup"


@dataclass
class LiveLoadBalancer:
    data: dict[str, Any]
    tags: dict[str, str]

    @property
    def arn(self) -> str:
        return str(self.data["LoadBalancerArn"])


@dataclass
class LiveTargetGroup:
    data: dict[str, Any]
    tags: dict[str, str]

    @property
    def arn(self) -> str:
        return str(self.data["TargetGroupArn"])


@dataclass
class LiveStack:
    load_balancers: list[LiveLoadBalancer] = field(default_factory=list)
    target_groups: list[LiveTargetGroup] = field(default_factory=list)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def tagged_arns(
    clients: AwsClients, tags: dict[str, str], types: Sequence[str]
) -> dict[str, dict[str, str]]:
    """ARN -> tags of the ELBv2 resources of `types` carrying all of `tags`."""
    found: dict[str, dict[str, str]] = {}
    with about(f"tag lookup {tags}"):
        pages = clients.tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": k, "Values": [v]} for k, v in tags.items()],
            ResourceTypeFilters=list(types),
            # AWS's largest page (its default is 50): a cluster-wide sweep in half the calls.
            PaginationConfig={"PageSize": TAGGING_PAGE},
        )
        for page in pages:
            for mapping in page["ResourceTagMappingList"]:
                found[mapping["ResourceARN"]] = from_aws(mapping.get("Tags"))
    return found


def stack_inventory(clients: AwsClients, cluster: str) -> dict[str, frozenset[str]]:
    """Each stack of the cluster -> the ARNs of its load balancers and target groups, from
    one account-wide tagging API sweep (100 resources a page): what a restart checks the
    recorded state against before it trusts it."""
    found: dict[str, set[str]] = {}
    for arn, tags in tagged_arns(clients, {TAG_CLUSTER: cluster}, [LB_TYPE, TG_TYPE]).items():
        stack = tags.get(TAG_STACK)
        if stack:
            found.setdefault(stack, set()).add(arn)
    return {stack: frozenset(arns) for stack, arns in found.items()}


def _describe_tolerant(
    describe: Any, key: str, arns: Sequence[str], result_key: str, missing_code: str
) -> list[dict[str, Any]]:
    """Describe by ARNs in chunks; one gone ARN fails a whole call, so retry those singly."""
    out: list[dict[str, Any]] = []
    for chunk in chunks(arns, DESCRIBE_CHUNK):
        try:
            out += describe(**{key: list(chunk)})[result_key]
        except ClientError as error:
            if not has_code(error, missing_code):
                raise
            for arn in chunk:
                try:
                    out += describe(**{key: [arn]})[result_key]
                except ClientError as single:
                    if not has_code(single, missing_code):
                        raise
    return out


def describe_load_balancers(clients: AwsClients, arns: Sequence[str]) -> list[dict[str, Any]]:
    with about("load balancers"):
        return _describe_tolerant(
            clients.elbv2.describe_load_balancers,
            "LoadBalancerArns",
            arns,
            "LoadBalancers",
            "LoadBalancerNotFound",
        )


def describe_target_groups(clients: AwsClients, arns: Sequence[str]) -> list[dict[str, Any]]:
    with about("target groups"):
        return _describe_tolerant(
            clients.elbv2.describe_target_groups,
            "TargetGroupArns",
            arns,
            "TargetGroups",
            "TargetGroupNotFound",
        )


def describe_tags(clients: AwsClients, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    """ARN -> tags for ELBv2 resources, 20 ARNs a call."""
    tags: dict[str, dict[str, str]] = {}
    with about("tags"):
        for chunk in chunks(list(arns), DESCRIBE_CHUNK):
            response = clients.elbv2.describe_tags(ResourceArns=list(chunk))
            for description in response["TagDescriptions"]:
                tags[description["ResourceArn"]] = from_aws(description.get("Tags"))
    return tags


def find_stack(clients: AwsClients, cluster: str, stack_id: str) -> LiveStack:
    """The stack's load balancers and target groups, found by the cluster and stack tags."""
    arns = tagged_arns(clients, {TAG_CLUSTER: cluster, TAG_STACK: stack_id}, [LB_TYPE, TG_TYPE])
    lb_arns = [a for a in arns if ":loadbalancer/" in a]
    tg_arns = [a for a in arns if ":targetgroup/" in a]
    live = LiveStack()
    if lb_arns:
        for data in describe_load_balancers(clients, lb_arns):
            live.load_balancers.append(LiveLoadBalancer(dict(data), arns[data["LoadBalancerArn"]]))
    if tg_arns:
        for data in describe_target_groups(clients, tg_arns):
            live.target_groups.append(LiveTargetGroup(dict(data), arns[data["TargetGroupArn"]]))
    return live


def listeners(clients: AwsClients, lb_arn: str) -> list[dict[str, Any]]:
    with about(f"listeners of {lb_arn}"):
        pages = clients.elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb_arn)
        return [dict(item) for page in pages for item in page["Listeners"]]


def rules(clients: AwsClients, listener_arn: str) -> list[dict[str, Any]]:
    """The listener's rules, the default rule included (it has `IsDefault`)."""
    with about(f"rules of {listener_arn}"):
        out: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ListenerArn": listener_arn}
            if marker:
                kwargs["Marker"] = marker
            response = clients.elbv2.describe_rules(**kwargs)
            out += [dict(r) for r in response["Rules"]]
            marker = response.get("NextMarker")
            if not marker:
                return out


# What of a load balancer and of a target group the drift sweep compares: what a person might
# change by hand and only a deploy of ours changes otherwise. Not the load balancer's State
# (it moves on its own) nor a target group's LoadBalancerArns (a rule edit moves them).
LB_FIELDS = ("Scheme", "Type", "IpAddressType", "VpcId", "SecurityGroups", "AvailabilityZones")
TG_FIELDS = (
    "Protocol", "ProtocolVersion", "Port", "TargetType", "VpcId", "IpAddressType",
    "HealthCheckProtocol", "HealthCheckPort", "HealthCheckEnabled", "HealthCheckPath",
    "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
    "UnhealthyThresholdCount", "Matcher",
)  # fmt: skip
LIST_PAGE = 400  # DescribeLoadBalancers / DescribeTargetGroups: AWS's largest page


def _listed_load_balancers(clients: AwsClients) -> list[dict[str, Any]]:
    paginator = clients.elbv2.get_paginator("describe_load_balancers")
    pages = paginator.paginate(PaginationConfig={"PageSize": LIST_PAGE})
    return [dict(item) for page in pages for item in page["LoadBalancers"]]


def _listed_target_groups(clients: AwsClients) -> list[dict[str, Any]]:
    paginator = clients.elbv2.get_paginator("describe_target_groups")
    pages = paginator.paginate(PaginationConfig={"PageSize": LIST_PAGE})
    return [dict(item) for page in pages for item in page["TargetGroups"]]


def _canonical(data: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    kept = {f: data[f] for f in fields if f in data}
    if "SecurityGroups" in kept:
        kept["SecurityGroups"] = sorted(kept["SecurityGroups"])
    if "AvailabilityZones" in kept:
        kept["AvailabilityZones"] = sorted(
            str(z.get("SubnetId")) for z in kept["AvailabilityZones"]
        )
    return kept


def stack_fingerprints(clients: AwsClients, cluster: str) -> dict[str, str]:
    """Each stack of the cluster -> a digest of its load balancers and target groups (ARNs,
    tags and settings), from one account-wide sweep: the tagging API for the cluster's
    resources and their tags (100 a page), then DescribeLoadBalancers and DescribeTargetGroups
    listed 400 a page. That is ceil(resources / 100) + a few calls for the whole cluster,
    however many groups it has; a stack whose digest moved between two sweeps with no deploy
    of ours in between was changed by someone else (`kube.drift`)."""
    tagged = tagged_arns(clients, {TAG_CLUSTER: cluster}, [LB_TYPE, TG_TYPE])
    with about("drift sweep"):
        settings = {
            str(lb["LoadBalancerArn"]): _canonical(lb, LB_FIELDS)
            for lb in _listed_load_balancers(clients)
            if lb["LoadBalancerArn"] in tagged
        }
        settings |= {
            str(tg["TargetGroupArn"]): _canonical(tg, TG_FIELDS)
            for tg in _listed_target_groups(clients)
            if tg["TargetGroupArn"] in tagged
        }
    found: dict[str, list[Any]] = {}
    for arn, tags in sorted(tagged.items()):
        stack = tags.get(TAG_STACK)
        if stack:
            # An ARN the tagging API still lists but ELBv2 no longer has: {} (eventually
            # consistent; it differs from the baseline only if the resource really went).
            found.setdefault(stack, []).append([arn, sorted(tags.items()), settings.get(arn, {})])
    return {
        stack: hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        for stack, entries in found.items()
    }
