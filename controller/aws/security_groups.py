"""Security groups: the managed frontend group per ALB, the cluster's shared backend group,
and the node security group rules that let the backend group reach the targets.

- The frontend group (`ManagedLBSecurityGroup`) opens exactly the desired listen ports to
  the desired CIDRs and managed prefix lists: missing permissions are authorized and extra
  ones revoked, one call each. Before adding any, the group's rules are counted against the
  rules-per-group quota, per address family as AWS counts them, a prefix list counting as
  its MaxEntries (an AWS-managed one as its published weight); the prefix lists are read for
  that (DescribeManagedPrefixLists) only by a deploy that adds a permission.
- The backend group (tags `elbv2.k8s.aws/cluster` + `elbv2.k8s.aws/resource=backend-sg`,
  name `k8s-traffic-<cluster>-<hash>`, as LBC) is attached to every ALB and is the source of
  the node security group rules (description `elbv2.k8s.aws/targetGroupBinding=shared`) on
  the target and health-check ports. Those rules are only added by a deploy, since other
  stacks of the cluster may need the same ports; they are revoked all at once when the last
  ALB of the cluster goes and the backend group with it.
- Deleting a group retries `DependencyViolation` with backoff for minutes: an ALB's network
  interfaces linger after the ALB is deleted.
Groups not tagged ours are only ever read.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError, about, error_code, has_code, translate
from controller.aws.retry import delete_waiting
from controller.aws.tags import BACKEND_SG_VALUE, TAG_BACKEND_SG, diff, from_aws, to_aws
from controller.limits import AWS_MANAGED_PREFIX_LIST_WEIGHTS, DEFAULT_RULES_PER_SG
from controller.model.stack import (
    MANAGED_SG_RESOURCE_ID,
    TAG_CLUSTER,
    TAG_RESOURCE,
    TAG_STACK,
    ManagedSecurityGroup,
)

SHARED_RULE_DESCRIPTION = "elbv2.k8s.aws/targetGroupBinding=shared"
BACKEND_SG_DESCRIPTION = "[k8s] Shared Backend SecurityGroup for LoadBalancer"

# A flattened ingress permission: (protocol, from port, to port, source kind, source).
Permission = tuple[str, int, int, str, str]
# (IpPermissions key, source kind, field holding the source)
_SOURCES = (
    ("IpRanges", "cidr", "CidrIp"),
    ("Ipv6Ranges", "cidr6", "CidrIpv6"),
    ("UserIdGroupPairs", "group", "GroupId"),
    ("PrefixListIds", "prefix", "PrefixListId"),
)


_BACKEND_LOCK = threading.Lock()


def backend_sg_name(cluster: str) -> str:
    digest = hashlib.sha256(cluster.encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c == "-" else "" for c in cluster)[:200]
    return f"k8s-traffic-{safe}-{digest}"


# Kubernetes' NodePort range. Instance targets are NodePorts, so the backend group gets one
# rule for the whole range into each node group (as the incumbent does), however many
# Services there are: a rule per port filled the node group's 60 inbound rules at ~60
# NodePort Services (LBC #3538, #4800) and, with three groups deploying at once, stopped a
# 100-Ingress fleet for good.
NODE_PORTS = (30000, 32767)

Range = tuple[int, int]


def backend_ranges(ports: Iterable[int]) -> set[Range]:
    """The port ranges the backend group needs: the NodePort range for any NodePort, one
    single-port rule for each other port (ip targets' container ports, health checks)."""
    wanted: set[Range] = set()
    for port in ports:
        in_node_range = NODE_PORTS[0] <= port <= NODE_PORTS[1]
        wanted.add(NODE_PORTS if in_node_range else (port, port))
    return wanted


def plan_backend_rules(
    have: Mapping[Permission, str | None], backend_id: str, ports: Iterable[int]
) -> tuple[dict[Permission, str | None], dict[Permission, str | None]]:
    """(rules to add, rules to revoke) so `backend_id` reaches a node group on `ports`.

    A port an existing rule of ours already covers needs nothing, so a cluster whose rules
    already let the load balancers in (an adopted LBC v2 cluster's single-port rules) is left
    as it is. An uncovered NodePort brings the range rule; single-port rules of ours inside
    the range are then redundant and revoked, which frees rules under the limit."""
    ours = {
        (start, end): perm
        for perm in have
        for proto, start, end, kind, source in [perm]
        if proto == "tcp" and kind == "group" and source == backend_id
    }
    uncovered = [p for p in ports if not any(lo <= p <= hi for lo, hi in ours)]
    add = backend_ranges(uncovered)
    ranged = NODE_PORTS in ours or NODE_PORTS in add
    redundant = {
        perm: have[perm]
        for (lo, hi), perm in ours.items()
        if ranged and (lo, hi) != NODE_PORTS and NODE_PORTS[0] <= lo and hi <= NODE_PORTS[1]
    }
    to_add: dict[Permission, str | None] = {
        ("tcp", lo, hi, "group", backend_id): SHARED_RULE_DESCRIPTION for lo, hi in sorted(add)
    }
    return to_add, redundant


def flatten(permissions: Iterable[Mapping[str, Any]]) -> dict[Permission, str | None]:
    """AWS `IpPermissions` as single-source permissions (with their descriptions)."""
    out: dict[Permission, str | None] = {}
    for p in permissions:
        proto = str(p.get("IpProtocol", "-1"))
        start, end = int(p.get("FromPort", -1)), int(p.get("ToPort", -1))
        for key, kind, field in _SOURCES:
            for source in p.get(key) or ():
                out[(proto, start, end, kind, str(source[field]))] = source.get("Description")
    return out


def unflatten(permissions: Mapping[Permission, str | None]) -> list[dict[str, Any]]:
    """Single-source permissions back in the `IpPermissions` shape.

    Revokes carry the live description: AWS ignores it, moto insists on it.
    """
    out: list[dict[str, Any]] = []
    keys = {kind: (key, field) for key, kind, field in _SOURCES}
    for permission in sorted(permissions):
        proto, start, end, kind, source = permission
        key, field = keys[kind]
        entry: dict[str, Any] = {field: source}
        if permissions[permission]:
            entry["Description"] = permissions[permission]
        out.append({"IpProtocol": proto, "FromPort": start, "ToPort": end, key: [entry]})
    return out


def authorize_ingress(
    ec2: Any, group_id: str, permissions: Mapping[Permission, str | None]
) -> bool:
    """Authorize `permissions` (with their descriptions) in a group, in one call; one there
    already (a call whose reply was lost, retried by botocore) is fine. Whether it called."""
    if not permissions:
        return False
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=unflatten(permissions))
    except ClientError as error:
        if not has_code(error, "InvalidPermission.Duplicate"):
            raise
    return True


def check_rule_count(what: str, total: int, limit: int, doing: str, fix: str) -> None:
    """Raise the quota error when `doing` would leave a group with `total` inbound rules."""
    if total > limit:
        raise AwsError(
            what,
            "RulesPerSecurityGroupLimitExceeded",
            f"{doing} would need {total} inbound rules, over the limit of {limit} ({fix})",
            retryable=False,
        )


def revoke_ingress(ec2: Any, group_id: str, permissions: Mapping[Permission, str | None]) -> bool:
    """Revoke `permissions` from a group, in one call; one gone already is fine. Whether it
    called."""
    if not permissions:
        return False
    try:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=unflatten(permissions))
    except ClientError as error:
        if not has_code(error, "InvalidPermission.NotFound"):
            raise
    return True


def desired_ingress(group: ManagedSecurityGroup) -> dict[Permission, str | None]:
    wanted: dict[Permission, str | None] = {
        ("tcp", rule.port, rule.port, "cidr6" if ":" in rule.cidr else "cidr", rule.cidr): None
        for rule in group.ingress
    }
    wanted.update(
        {
            ("tcp", rule.port, rule.port, "prefix", rule.prefix_list_id): None
            for rule in group.prefix_list_ingress
        }
    )
    return wanted


# A prefix list's address family and how many rules a permission naming it counts as.
PrefixListWeight = tuple[str, int]


def prefix_list_weight(described: Mapping[str, Any]) -> PrefixListWeight:
    """(family, rules) of a DescribeManagedPrefixLists entry: an AWS-managed list weighs
    what AWS publishes for it, a customer-managed one its MaxEntries."""
    family = str(described.get("AddressFamily") or "IPv4")
    name = str(described.get("PrefixListName") or "")
    if described.get("OwnerId") == "AWS" and name.startswith("com.amazonaws."):
        service = name.removeprefix("com.amazonaws.").partition(".")[2]  # after the region
        if service in AWS_MANAGED_PREFIX_LIST_WEIGHTS:
            return family, AWS_MANAGED_PREFIX_LIST_WEIGHTS[service]
    return family, int(described.get("MaxEntries") or 1)


def rule_counts(
    permissions: Iterable[Permission], weights: Mapping[str, PrefixListWeight]
) -> dict[str, int]:
    """Rules by address family (AWS's quota applies to each): a CIDR is one rule, a prefix
    list its weight, anything else one IPv4 rule."""
    counts = {"IPv4": 0, "IPv6": 0}
    for _, _, _, kind, source in permissions:
        family, rules = weights.get(source, ("IPv4", 1)) if kind == "prefix" else ("IPv4", 1)
        counts["IPv6" if kind == "cidr6" else family] += rules
    return counts


class SecurityGroups:
    """Finds, creates, reconciles and deletes the security groups we own."""

    def __init__(
        self,
        clients: AwsClients,
        cluster: str,
        sleep: Callable[[float], None],
        delete_timeout: float = 600.0,
        rules_limit: int = DEFAULT_RULES_PER_SG,
    ) -> None:
        self._clients = clients
        self._cluster = cluster
        self._sleep = sleep
        self._delete_timeout = delete_timeout
        self._rules_limit = rules_limit

    @property
    def _ec2(self) -> Any:
        return self._clients.ec2

    def _describe(self, filters: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        with about(what):
            pages = self._ec2.get_paginator("describe_security_groups").paginate(Filters=filters)
            return [dict(g) for page in pages for g in page["SecurityGroups"]]

    # --- managed frontend group ----------------------------------------------------------

    def find_managed(self, stack_id: str) -> list[dict[str, Any]]:
        return self._describe(
            [
                {"Name": f"tag:{TAG_CLUSTER}", "Values": [self._cluster]},
                {"Name": f"tag:{TAG_STACK}", "Values": [stack_id]},
                {"Name": f"tag:{TAG_RESOURCE}", "Values": [MANAGED_SG_RESOURCE_ID]},
            ],
            f"managed security group of stack {stack_id}",
        )

    def ensure_managed(
        self,
        group: ManagedSecurityGroup,
        tags: dict[str, str],
        vpc_id: str,
        live: Sequence[dict[str, Any]],
    ) -> str:
        """The managed group's ID in `vpc_id`, created if needed, with exactly our ingress."""
        what = f"security group {group.name}"
        current = next((g for g in live if g["VpcId"] == vpc_id), None)
        if current is None:
            current = self._create(group.name, group.description, vpc_id, tags, what)
            created = True
        else:
            created = False
        sg_id = str(current["GroupId"])
        want = desired_ingress(group)
        have = {} if created else flatten(current.get("IpPermissions") or ())
        missing = {p: d for p, d in want.items() if p not in have}
        extra = {p: d for p, d in have.items() if p not in want}
        with about(what):
            # What AWS counts when the authorize comes first (make before break): the group
            # as it is plus what is added. If only the wanted rules fit, revoke first.
            revoke_first = bool(missing) and self._over_quota(what, [*have, *missing], want)
            if revoke_first:
                revoke_ingress(self._ec2, sg_id, extra)
            authorize_ingress(self._ec2, sg_id, missing)
            if not revoke_first:
                revoke_ingress(self._ec2, sg_id, extra)
            if not created:
                self._sync_tags(sg_id, from_aws(current.get("Tags")), tags)
        return sg_id

    def _over_quota(
        self, what: str, during: Sequence[Permission], wanted: Iterable[Permission]
    ) -> bool:
        """Whether `during` (the group while rules are added) exceeds the rules-per-group
        quota in some address family; raises when even the `wanted` rules alone do."""
        wanted = list(wanted)
        lists = sorted({p[4] for p in [*during, *wanted] if p[3] == "prefix"})
        weights = self._prefix_list_weights(lists) if lists else {}
        final = rule_counts(wanted, weights)
        over = {family: n for family, n in final.items() if n > self._rules_limit}
        if over:
            family, count = sorted(over.items())[0]
            raise AwsError(
                what,
                "RulesPerSecurityGroupLimitExceeded",
                f"its inbound rules would count as {count} {family} rules (listen ports times "
                f"inbound-cidrs, a prefix list counting as its maximum entries), over the "
                f"limit of {self._rules_limit} (RULES_PER_SG_LIMIT): open fewer ports, CIDRs "
                "or smaller security-group-prefix-lists, or raise the quota",
                retryable=False,
            )
        return any(n > self._rules_limit for n in rule_counts(during, weights).values())

    def _prefix_list_weights(self, ids: Sequence[str]) -> dict[str, PrefixListWeight]:
        """Each prefix list's (family, weight); one that does not exist is an error naming it
        (AWS would refuse the permission: InvalidPrefixListID.NotFound)."""
        found: dict[str, PrefixListWeight] = {}
        with about(f"prefix lists {', '.join(ids)}"):
            try:
                pages = self._ec2.get_paginator("describe_managed_prefix_lists").paginate(
                    PrefixListIds=list(ids)
                )
                for page in pages:
                    for described in page.get("PrefixLists") or ():
                        found[str(described["PrefixListId"])] = prefix_list_weight(described)
            except ClientError as error:
                if not str(error_code(error)).startswith("InvalidPrefixListID"):
                    raise
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise AwsError(
                f"prefix lists {', '.join(unknown)}",
                "InvalidPrefixListID.NotFound",
                "no managed prefix list of this ID in the region (security-group-prefix-lists)",
                retryable=False,
            )
        return found

    def _create(
        self, name: str, description: str, vpc_id: str, tags: dict[str, str], what: str
    ) -> dict[str, Any]:
        with about(what):
            try:
                response = self._ec2.create_security_group(
                    GroupName=name,
                    Description=description,
                    VpcId=vpc_id,
                    TagSpecifications=[{"ResourceType": "security-group", "Tags": to_aws(tags)}],
                )
                return {"GroupId": response["GroupId"], "VpcId": vpc_id, "IpPermissions": []}
            except ClientError as error:
                if not has_code(error, "InvalidGroup.Duplicate"):
                    raise
            # The name is taken in this VPC: ours (a lookup by tag missed it) or a stranger's.
            existing = self._describe(
                [
                    {"Name": "group-name", "Values": [name]},
                    {"Name": "vpc-id", "Values": [vpc_id]},
                ],
                what,
            )
            found = existing[0] if existing else None
            found_tags = from_aws(found.get("Tags")) if found else {}
            # Ours if it carries the same identity tags (a stack's group: cluster + stack;
            # the shared backend group: cluster + backend marker).
            identity = [k for k in (TAG_CLUSTER, TAG_STACK, TAG_BACKEND_SG) if k in tags]
            if found is None or any(found_tags.get(k) != tags[k] for k in identity):
                raise translate(
                    ClientError(
                        {
                            "Error": {
                                "Code": "InvalidGroup.Duplicate",
                                "Message": f"a security group named {name} that is not ours "
                                f"exists in {vpc_id}",
                            }
                        },
                        "CreateSecurityGroup",
                    ),
                    what,
                )
            return found

    def _sync_tags(self, sg_id: str, current: dict[str, str], desired: dict[str, str]) -> None:
        to_set, to_remove = diff(current, desired, self._clients.external_tags)
        if to_set:
            self._ec2.create_tags(Resources=[sg_id], Tags=to_aws(to_set))
        if to_remove:
            self._ec2.delete_tags(Resources=[sg_id], Tags=[{"Key": k} for k in to_remove])

    # --- shared backend group ------------------------------------------------------------

    def _backend_filters(self) -> list[dict[str, Any]]:
        return [
            {"Name": f"tag:{TAG_CLUSTER}", "Values": [self._cluster]},
            {"Name": f"tag:{TAG_BACKEND_SG}", "Values": [BACKEND_SG_VALUE]},
        ]

    def find_backend(self) -> list[dict[str, Any]]:
        return self._describe(self._backend_filters(), "backend security group")

    def ensure_backend(self, vpc_id: str) -> str:
        """The cluster's shared backend group in `vpc_id`, created if missing.

        Workers deploying different groups share it: one at a time here, and a create that
        loses a race with another process finds the winner's group by name and tags."""
        with _BACKEND_LOCK:
            found = [g for g in self.find_backend() if g["VpcId"] == vpc_id]
            if found:
                return str(sorted(found, key=lambda g: str(g["GroupId"]))[0]["GroupId"])
            tags = {TAG_CLUSTER: self._cluster, TAG_BACKEND_SG: BACKEND_SG_VALUE}
            name = backend_sg_name(self._cluster)
            created = self._create(
                name, BACKEND_SG_DESCRIPTION, vpc_id, tags, f"security group {name}"
            )
            return str(created["GroupId"])

    def allow_backend(
        self, node_groups: Sequence[str], backend_id: str, ports: Iterable[int]
    ) -> None:
        """Let the backend group into each node group on `ports`: adds only what is missing,
        checked against the rules-per-group limit before any call."""
        if not node_groups:
            return
        wanted_ports = sorted(set(ports))
        groups = self._describe(
            [{"Name": "group-id", "Values": sorted(set(node_groups))}], "node security groups"
        )
        for group in groups:
            have = flatten(group.get("IpPermissions") or ())
            add, redundant = plan_backend_rules(have, backend_id, wanted_ports)
            what = f"node security group {group['GroupId']}"
            if add:
                check_rule_count(
                    what,
                    len(have) - len(redundant) + len(add),
                    self._rules_limit,
                    "allowing the load balancers in",
                    "raise the quota and RULES_PER_SG_LIMIT, or remove rules you added",
                )
            with about(what):
                authorize_ingress(self._ec2, group["GroupId"], add)
                revoke_ingress(self._ec2, group["GroupId"], redundant)

    def release_backend(self, backend_id: str) -> None:
        """Revoke every rule naming the backend group as source, then delete the group."""
        referencing = self._describe(
            [{"Name": "ip-permission.group-id", "Values": [backend_id]}],
            f"security groups referencing {backend_id}",
        )
        for group in referencing:
            perms = flatten(group.get("IpPermissions") or ())
            ours = {p: d for p, d in perms.items() if p[3] == "group" and p[4] == backend_id}
            if ours:
                with about(f"node security group {group['GroupId']}"):
                    revoke_ingress(self._ec2, group["GroupId"], ours)
        self.delete(backend_id)

    # --- deletion ------------------------------------------------------------------------

    def delete(self, sg_id: str) -> None:
        """Delete a group, waiting out `DependencyViolation`; a group already gone is fine."""
        delete_waiting(
            lambda: self._ec2.delete_security_group(GroupId=sg_id),
            what=f"security group {sg_id}",
            gone="InvalidGroup.NotFound",
            busy="DependencyViolation",
            timeout=self._delete_timeout,
            sleep=self._sleep,
        )
