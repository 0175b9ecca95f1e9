"""A stricter moto: what AWS rejects but moto accepts, so moto's leniency cannot hide bugs.

Installed by the `aws` fixture around moto's backend methods:
- a second load balancer with a taken name and other settings -> `DuplicateLoadBalancerName`
  (the same settings return the first, as on AWS: `sandbox.motofixes`);
- unknown security group IDs on CreateLoadBalancer -> `InvalidSecurityGroup`;
- more than 5 condition values in a rule -> `ValidationError`; more rules on a load balancer
  than the quota -> `TooManyRules`;
- a target group used by a second load balancer -> `TargetGroupAssociationLimit` (one
  load balancer per target group for ALBs);
- deleting a security group a load balancer still uses, or another group's rule references,
  -> `DependencyViolation`; and, to exercise the retry, the groups of a deleted load
  balancer stay "in use" for `linger` more delete attempts (its ENIs on AWS);
- `DescribeTargetGroups` reports each group's current load balancers (moto never forgets one);
- an authenticate-oidc, authenticate-cognito or jwt-validation action on a listener that is
  not HTTPS -> `InvalidLoadBalancerAction`;
- regex conditions, jwt-validation actions, rule transforms and target control ports as AWS
  takes and answers them (`sandbox.motofixes.RULE_FEATURES`), RegexValues counting against
  the 5 condition values like Values;
- authenticate-oidc's client secret as AWS keeps it (`sandbox.motofixes`): never answered,
  kept by `UseExistingClientSecret`, required on create;
- one WAFv2 web ACL per resource, and Shield's GetSubscriptionState (`sandbox.motofixes`);
- CreateLoadBalancer's customer-owned and IPAM pools kept, ModifyIpPools and the LCU
  reservation (`sandbox.motofixes`), with AWS's checks: a reservation below 100 units ->
  `ValidationError`, one on a load balancer still provisioning -> `OperationNotPermitted`
  (AWS takes it once the load balancer is active; the exact code is our guess);
- trust stores and listener mTLS as AWS keeps and checks them (`sandbox.motofixes.MUTUAL_TLS`);
- ModifyListenerAttributes with a key that is no ALB listener attribute (not
  `routing.http.*`) -> `ValidationError`;
- AuthorizeSecurityGroupIngress naming a prefix list that does not exist ->
  `InvalidPrefixListID.NotFound`, and one whose rules would pass the quota (60 per address
  family, a prefix list counting as its MaxEntries) -> `RulesPerSecurityGroupLimitExceeded`
  (moto counts neither prefix lists nor families).
One fidelity fix the other way: AWS's SetRulePriorities checks the final state (swaps work),
while moto rejects any priority some rule holds before the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.ec2.exceptions import (
    DependencyViolationError,
    EC2ClientError,
    RulesPerSecurityGroupLimitExceededError,
)
from moto.ec2.models import EC2Backend
from moto.elbv2.exceptions import ELBClientError
from moto.elbv2.models import ELBv2Backend, FakeAction, elbv2_backends
from moto.shield.responses import ShieldResponse
from moto.wafv2.models import WAFV2Backend

from sandbox import motofixes


@dataclass
class Strict:
    max_rules_per_load_balancer: int = 100
    rules_per_security_group: int = 60  # AWS's default quota, per address family
    linger: int = 0  # delete attempts a deleted LB's security groups stay busy
    _lingering: dict[str, int] = field(default_factory=dict)

    def settle(self) -> None:
        """The deleted load balancers' network interfaces are finally gone."""
        self.linger = 0
        self._lingering.clear()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Wrap moto's backend methods with the checks (`monkeypatch` undoes it)."""
        patches: list[tuple[type, str, Callable[..., Any]]] = [
            (FakeAction, "__init__", motofixes.fake_action_init),
            (ELBv2Backend, "create_load_balancer", _strict_create_lb),
            (
                ELBv2Backend,
                "create_rule",
                self._strict_create_rule(
                    motofixes.secrets_on_create_rule(ELBv2Backend.create_rule)
                ),
            ),
            (
                ELBv2Backend,
                "modify_rule",
                _strict_modify_rule(motofixes.secrets_on_modify_rule(ELBv2Backend.modify_rule)),
            ),
            (
                ELBv2Backend,
                "create_listener",
                motofixes.secrets_on_create_listener(_strict_create_listener),
            ),
            (
                ELBv2Backend,
                "modify_listener",
                motofixes.secrets_on_modify_listener(
                    _strict_modify_listener(ELBv2Backend.modify_listener)
                ),
            ),
            (ELBv2Backend, "set_rule_priorities", motofixes.set_rule_priorities),
            (
                ELBv2Backend,
                "delete_load_balancer",
                self._strict_delete_lb(ELBv2Backend.delete_load_balancer),
            ),
            (
                ELBv2Backend,
                "describe_target_groups",
                _strict_describe_tgs(ELBv2Backend.describe_target_groups),
            ),
            (
                EC2Backend,
                "delete_security_group",
                self._strict_delete_sg(EC2Backend.delete_security_group),
            ),
        ]
        for owner, name, replacement in (
            *motofixes.POOLS_AND_CAPACITY,
            *motofixes.RULE_FEATURES,
            *motofixes.MUTUAL_TLS,
        ):
            monkeypatch.setattr(owner, name, replacement, raising=False)
        patches += [
            (
                ELBv2Backend,
                "modify_capacity_reservation",
                _strict_capacity(motofixes.modify_capacity_reservation),
            ),
            (
                ELBv2Backend,
                "modify_listener_attributes",
                _strict_listener_attributes(ELBv2Backend.modify_listener_attributes),
            ),
            (
                EC2Backend,
                "authorize_security_group_ingress",
                self._strict_authorize(EC2Backend.authorize_security_group_ingress),
            ),
        ]
        for backend, name, method in patches:
            monkeypatch.setattr(backend, name, method)
        monkeypatch.setattr(WAFV2Backend, "associate_web_acl", motofixes.associate_web_acl)
        monkeypatch.setattr(
            ShieldResponse,
            "get_subscription_state",
            motofixes.get_subscription_state,
            raising=False,
        )

    def _strict_create_rule(self, create_rule: Callable[..., Any]) -> Callable[..., Any]:
        """CreateRule, refusing too many condition values, rules over the quota, and a
        target group of another load balancer."""
        strict = self

        def strict_create_rule(
            self: ELBv2Backend,
            listener_arn: str,
            conditions: list[dict[str, Any]],
            *,
            priority: int,
            actions: list[dict[str, Any]],
            tags: Any = None,
        ) -> Any:
            _check_conditions(conditions)
            listener = self.describe_listeners(None, [listener_arn])[0]
            _check_authenticate(listener, actions)
            lb = self.load_balancers[listener.load_balancer_arn]
            count = sum(len(li._non_default_rules) for li in lb.listeners.values())
            if count >= strict.max_rules_per_load_balancer:
                raise ELBClientError(
                    "TooManyRules",
                    "The maximum number of rules on this load balancer has been reached",
                )
            _check_association(self, listener.load_balancer_arn, actions)
            return create_rule(self, listener_arn, conditions, priority, actions, tags)

        return strict_create_rule

    def _strict_authorize(self, authorize: Callable[..., Any]) -> Callable[..., Any]:
        """AuthorizeSecurityGroupIngress, refusing unknown prefix lists and rules over the
        quota once prefix lists weigh their MaxEntries."""
        strict = self

        def strict_authorize(self: EC2Backend, *args: Any, **kwargs: Any) -> Any:
            added = [p["PrefixListId"] for p in kwargs.get("prefix_list_ids") or ()]
            for prefix_list in added:
                if prefix_list not in self.managed_prefix_lists:
                    raise EC2ClientError(
                        "InvalidPrefixListID.NotFound",
                        f"The prefix list ID '{prefix_list}' does not exist",
                    )
            name = str(kwargs.get("group_name_or_id", args[0] if args else ""))
            group = self.get_security_group_by_name_or_id(name, kwargs.get("vpc_id"))
            if group is not None and (added or _has_prefix_lists(group)):
                counts = _rule_counts(self, group.ingress_rules)
                for cidr in kwargs.get("ip_ranges") or ():
                    counts["IPv6" if "CidrIpv6" in cidr else "IPv4"] += 1
                for prefix_list in added:
                    family, weight = _weight(self, prefix_list)
                    counts[family] += weight
                if max(counts.values()) > strict.rules_per_security_group:
                    raise RulesPerSecurityGroupLimitExceededError()
            return authorize(self, *args, **kwargs)

        return strict_authorize

    def _strict_delete_lb(self, delete_lb: Callable[..., Any]) -> Callable[..., Any]:
        """DeleteLoadBalancer, leaving its security groups busy for `linger` attempts."""
        strict = self

        def strict_delete_lb(self: ELBv2Backend, arn: str) -> None:
            lb = self.load_balancers.get(arn)
            if lb is not None and strict.linger:
                for sg in lb.security_groups:
                    strict._lingering[sg] = strict.linger
            delete_lb(self, arn)

        return strict_delete_lb

    def _strict_delete_sg(self, delete_sg: Callable[..., Any]) -> Callable[..., Any]:
        """DeleteSecurityGroup, refusing a group in use (or lingering) or referenced."""
        strict = self

        def strict_delete_sg(
            self: EC2Backend, name: str | None = None, group_id: str | None = None
        ) -> None:
            if group_id:
                elbv2 = _elbv2_for(self)
                if any(group_id in lb.security_groups for lb in elbv2.load_balancers.values()):
                    raise DependencyViolationError(f"resource {group_id} has a dependent object")
                if strict._lingering.get(group_id, 0) > 0:
                    strict._lingering[group_id] -= 1
                    raise DependencyViolationError(f"resource {group_id} has a dependent object")
                _check_unreferenced(self, group_id)
            delete_sg(self, name=name, group_id=group_id)

        return strict_delete_sg


def _strict_create_lb(
    self: ELBv2Backend, name: str, security_groups: list[str], *a: Any, **k: Any
) -> Any:
    """CreateLoadBalancer, refusing unknown security groups (and a taken name: `motofixes`)."""
    for sg in security_groups or ():
        if self.ec2_backend.get_security_group_from_id(sg) is None:
            raise ELBClientError("InvalidSecurityGroup", f"Security group {sg} does not exist")
    return motofixes.create_load_balancer(self, name, security_groups, *a, **k)


def _strict_modify_rule(modify_rule: Callable[..., Any]) -> Callable[..., Any]:
    """ModifyRule, refusing too many condition values and another load balancer's group."""

    def strict_modify_rule(
        self: ELBv2Backend,
        rule_arn: str,
        conditions: list[dict[str, Any]],
        actions: list[dict[str, Any]],
    ) -> Any:
        _check_conditions(conditions or ())
        rule = self.describe_rules(None, [rule_arn])[0]
        listener = self.describe_listeners(None, [rule.listener_arn])[0]
        _check_authenticate(listener, actions or ())
        _check_association(self, listener.load_balancer_arn, actions or ())
        return modify_rule(self, rule_arn, conditions, actions)

    return strict_modify_rule


def _strict_create_listener(self: ELBv2Backend, load_balancer_arn: str, *a: Any, **k: Any) -> Any:
    """CreateListener, refusing a target group of another load balancer."""
    _check_association(self, load_balancer_arn, k.get("actions") or (a[4] if len(a) > 4 else ()))
    return motofixes.create_listener(self, load_balancer_arn, *a, **k)


def _strict_modify_listener(modify_listener: Callable[..., Any]) -> Callable[..., Any]:
    """ModifyListener, refusing a target group of another load balancer."""

    def strict_modify_listener(self: ELBv2Backend, arn: str, *a: Any, **k: Any) -> Any:
        listener = self.describe_listeners(None, [arn])[0]
        _check_association(self, listener.load_balancer_arn, k.get("actions") or ())
        return modify_listener(self, arn, *a, **k)

    return strict_modify_listener


def _strict_describe_tgs(describe_tgs: Callable[..., Any]) -> Callable[..., Any]:
    """DescribeTargetGroups, with each group's current load balancers."""

    def strict_describe_tgs(self: ELBv2Backend, *a: Any, **k: Any) -> Any:
        groups = list(describe_tgs(self, *a, **k))
        for tg in groups:
            tg.load_balancer_arns = sorted(_load_balancers_using(self, tg.arn))
        return groups

    return strict_describe_tgs


def _check_unreferenced(ec2: EC2Backend, group_id: str) -> None:
    """Refuse if another group's ingress rule references `group_id`."""
    for groups in ec2.groups.values():
        for group in groups.values():
            for rule in group.ingress_rules:
                if rule.source_group.get("GroupId") == group_id:
                    raise DependencyViolationError(
                        f"resource {group_id} is referenced by {group.id}"
                    )


def _elbv2_for(ec2: EC2Backend) -> ELBv2Backend:
    backend: ELBv2Backend = elbv2_backends[ec2.account_id][ec2.region_name]
    return backend


def _check_conditions(conditions: Iterable[dict[str, Any]]) -> None:
    count = 0
    for condition in conditions:
        for key, value in condition.items():
            if key == "Values":
                count += len(value)
            elif key.endswith("Config") and isinstance(value, dict):
                count += len(value.get("Values", [])) + len(value.get("RegexValues", []))
    if count > 5:
        raise ELBClientError(
            "ValidationError", f"A rule can have at most 5 condition values, got {count}"
        )


def _check_authenticate(listener: Any, actions: Iterable[Any]) -> None:
    """AWS authenticates users and validates JWTs only on HTTPS listeners."""
    for action in actions:
        data = action.data if hasattr(action, "data") else action
        kind = str(data.get("Type", ""))
        first = kind.startswith("authenticate-") or kind == "jwt-validation"
        if first and listener.protocol != "HTTPS":
            raise ELBClientError(
                "InvalidLoadBalancerAction",
                f"{data['Type']} actions are only supported on HTTPS listeners",
            )


def _action_target_groups(actions: Iterable[Any]) -> set[str]:
    arns: set[str] = set()
    for action in actions:
        data = action.data if hasattr(action, "data") else action
        if data.get("TargetGroupArn"):
            arns.add(data["TargetGroupArn"])
        for tg in (data.get("ForwardConfig") or {}).get("TargetGroups", []):
            arns.add(tg["TargetGroupArn"])
    return arns


def _load_balancers_using(backend: ELBv2Backend, tg_arn: str) -> set[str]:
    using: set[str] = set()
    for lb in backend.load_balancers.values():
        for listener in lb.listeners.values():
            for rule in listener.rules.values():
                if tg_arn in _action_target_groups(rule.actions):
                    using.add(lb.arn)
    return using


def _check_association(backend: ELBv2Backend, lb_arn: str, actions: Iterable[Any]) -> None:
    for tg_arn in _action_target_groups(actions):
        others = _load_balancers_using(backend, tg_arn) - {lb_arn}
        if others:
            raise ELBClientError(
                "TargetGroupAssociationLimit",
                "The following target groups cannot be associated with more than one load "
                f"balancer: {tg_arn}",
            )


def _weight(ec2: EC2Backend, prefix_list: str) -> tuple[str, int]:
    found = ec2.managed_prefix_lists.get(prefix_list)
    if found is None:
        return "IPv4", 1
    return str(found.address_family or "IPv4"), int(found.max_entries or 1)


def _has_prefix_lists(group: Any) -> bool:
    return any(rule.prefix_list_id for rule in group.ingress_rules)


def _rule_counts(ec2: EC2Backend, rules: Iterable[Any]) -> dict[str, int]:
    counts = {"IPv4": 0, "IPv6": 0}
    for rule in rules:
        if rule.prefix_list_id:
            family, weight = _weight(ec2, rule.prefix_list_id)
            counts[family] += weight
        else:
            counts["IPv6" if "CidrIpv6" in rule.ip_range else "IPv4"] += 1
    return counts


def _strict_capacity(modify: Callable[..., Any]) -> Callable[..., Any]:
    """ModifyCapacityReservation as AWS checks it: at least 100 units, an active ALB."""

    def strict_capacity(self: ELBv2Backend, arn: str, units: int | None) -> Any:
        lb = self.load_balancers.get(arn)
        if lb is not None and lb.state == "provisioning":
            raise ELBClientError(
                "OperationNotPermitted", "The load balancer is not in the active state"
            )
        if units is not None and units < 100:
            raise ELBClientError("ValidationError", "The minimum capacity is 100 LCUs")
        return modify(self, arn, units)

    return strict_capacity


def _strict_listener_attributes(modify: Callable[..., Any]) -> Callable[..., Any]:
    """ModifyListenerAttributes, refusing keys that are not an ALB listener's."""

    def strict_listener_attributes(
        self: ELBv2Backend, listener_arn: str, attrs: list[dict[str, str]]
    ) -> Any:
        for attribute in attrs:
            if not attribute["Key"].startswith("routing.http."):
                raise ELBClientError(
                    "ValidationError", f"Listener attribute '{attribute['Key']}' is not valid"
                )
        return modify(self, listener_arn=listener_arn, attrs=attrs)

    return strict_listener_attributes
