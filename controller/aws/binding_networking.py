"""TargetGroupBindings' `networking.ingress`: inbound rules in the targets' security groups.

As LBC does it: each target instance (a Node of instance targets, or the Node an ip target's
pod runs on) has its endpoint security group, the one group of the instance, or of several the
one tagged `kubernetes.io/cluster/<cluster>` (more or fewer is an error). Every binding's
permissions go into its targets' groups with LBC's description
`elbv2.k8s.aws/targetGroupBinding=shared`; a group holds the union of what the bindings using
it want. A rule with that description that no binding wants any more is revoked from the
groups a binding touches (now or before), unless its source is a security group of this
cluster (the Ingresses' backend group, or an ALB's managed group: the Ingress path's rules
carry the same description), or a binding not synced yet in this process may want it
(`pending`: what each such binding's spec asks for, a named port counting as any port).

Pod ENIs of their own (security groups for pods, branch ENIs) are not looked at: a pod's
rules go into its Node's group. Groups no binding touches are never cleaned up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.aws.clients import AwsClients
from controller.aws.discovery import Discovery
from controller.aws.errors import AwsError, about
from controller.aws.security_groups import (
    SHARED_RULE_DESCRIPTION,
    authorize_ingress,
    check_rule_count,
    flatten,
    revoke_ingress,
)
from controller.aws.tags import from_aws
from controller.limits import DEFAULT_RULES_PER_SG, FILTER_VALUES
from controller.model.binding import ANY_PORT, Permission
from controller.model.stack import TAG_CLUSTER


class BindingNetworking:
    """Per binding, the permissions it wants in each endpoint group; reconciles the groups.

    Reconciles are serialised (one lock, like LBC's): two bindings sharing a group must not
    each revoke what the other just authorised."""

    def __init__(
        self,
        clients: AwsClients,
        cluster: str,
        discovery: Discovery,
        *,
        rules_limit: int = DEFAULT_RULES_PER_SG,
    ) -> None:
        self._clients = clients
        self._cluster = cluster
        self._discovery = discovery
        self._rules_limit = rules_limit
        self._lock = threading.Lock()
        self._wanted: dict[str, dict[str, frozenset[Permission]]] = {}  # binding -> group ->

    def synced(self) -> set[str]:
        """The bindings whose permissions are known in this process."""
        with self._lock:
            return set(self._wanted)

    def reconcile(
        self,
        binding: str,
        hosts: frozenset[str],
        permissions: frozenset[Permission],
        *,
        pending: Mapping[str, frozenset[Permission]],
    ) -> int:
        """Let `permissions` into the endpoint groups of `hosts` for `binding`, and revoke
        what no binding wants any more from those and the groups it used before. `pending`:
        the other bindings with networking, by key, with what their specs ask for. Returns
        the number of mutating calls."""
        with self._lock:
            by_instance = self._discovery.security_groups_by_instance(sorted(hosts))
            before = set(self._wanted.get(binding, {}))
            candidates = {g for groups in by_instance.values() for g in groups} | before
            described = self._describe(candidates, "endpoint security groups")
            chosen = {self._endpoint_group(i, g, described) for i, g in by_instance.items()}
            if permissions:
                self._wanted[binding] = dict.fromkeys(chosen, permissions)
            else:
                self._wanted.pop(binding, None)
            protected = {
                p for key, claimed in pending.items() if key not in self._wanted for p in claimed
            }
            return sum(
                self._reconcile_group(described[g], protected)
                for g in sorted(chosen | before)
                if g in described
            )

    def release(
        self, binding: str, hosts: frozenset[str], *, pending: Mapping[str, frozenset[Permission]]
    ) -> int:
        """The binding goes: revoke what it alone wanted (from its groups now and before)."""
        return self.reconcile(binding, hosts, frozenset(), pending=pending)

    def _describe(self, ids: Iterable[str], what: str) -> dict[str, dict[str, Any]]:
        """The groups by ID; a group that is gone is left out (a filter, not GroupIds, so
        one gone group does not fail the call)."""
        found: dict[str, dict[str, Any]] = {}
        wanted = sorted(set(ids))
        with about(what):
            for start in range(0, len(wanted), FILTER_VALUES):
                chunk = wanted[start : start + FILTER_VALUES]
                pages = self._clients.ec2.get_paginator("describe_security_groups").paginate(
                    Filters=[{"Name": "group-id", "Values": chunk}]
                )
                for page in pages:
                    found.update({str(g["GroupId"]): dict(g) for g in page["SecurityGroups"]})
        return found

    def _endpoint_group(
        self, instance: str, groups: Sequence[str], described: Mapping[str, dict[str, Any]]
    ) -> str:
        """LBC's endpoint group of an instance: its only group, or the one of its groups
        tagged for the cluster."""
        if len(groups) == 1:
            return groups[0]
        tag = f"kubernetes.io/cluster/{self._cluster}"
        tagged = [g for g in groups if tag in from_aws(described.get(g, {}).get("Tags"))]
        if len(tagged) != 1:
            raise AwsError(
                f"node instance {instance}",
                "EndpointSecurityGroupUnknown",
                f"expected one security group, or exactly one of its {len(groups)} groups "
                f"tagged {tag}, got {len(tagged)} tagged ({', '.join(sorted(tagged)) or 'none'}):"
                " tag the group the load balancer's traffic should be let into",
                retryable=False,
            )
        return tagged[0]

    def _reconcile_group(self, group: Mapping[str, Any], protected: set[Permission]) -> int:
        """Make one endpoint group hold what the bindings want; returns the calls made."""
        group_id = str(group["GroupId"])
        want = {p for wanted in self._wanted.values() for p in wanted.get(group_id, ())}
        have = flatten(group.get("IpPermissions") or ())
        add: dict[Permission, str | None] = {
            p: SHARED_RULE_DESCRIPTION for p in sorted(want) if p not in have
        }
        extra: dict[Permission, str | None] = {
            p: d
            for p, d in have.items()
            if d == SHARED_RULE_DESCRIPTION
            and p not in want
            and p not in protected
            and (*p[:1], ANY_PORT, ANY_PORT, *p[3:]) not in protected
        }
        extra = self._not_the_clusters(extra)
        what = f"endpoint security group {group_id}"
        if add:
            check_rule_count(
                what,
                len(have) - len(extra) + len(add),
                self._rules_limit,
                "the TargetGroupBindings' networking rules",
                "raise the quota and RULES_PER_SG_LIMIT, or open fewer ports or sources",
            )
        with about(what):
            added = authorize_ingress(self._clients.ec2, group_id, add)
            revoked = revoke_ingress(self._clients.ec2, group_id, extra)
        return int(added) + int(revoked)

    def _not_the_clusters(
        self, extra: dict[Permission, str | None]
    ) -> dict[Permission, str | None]:
        """`extra` without the rules from a security group tagged for this cluster: those
        are the Ingress path's (the backend group's, an ALB's managed group's)."""
        sources = {p[4] for p in extra if p[3] == "group"}
        if not sources:
            return extra
        described = self._describe(sources, "source security groups")
        ours = {
            g
            for g, found in described.items()
            if from_aws(found.get("Tags")).get(TAG_CLUSTER) == self._cluster
        }
        return {p: d for p, d in extra.items() if not (p[3] == "group" and p[4] in ours)}
