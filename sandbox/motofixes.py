"""Where moto and AWS answer a call differently, the sandbox's moto answers as AWS does.

Two kinds live here: moto refusing what AWS accepts (which would push the controller into
calls real AWS does not need), and moto doing twice what AWS does once (which would make a
fault test report a duplicate AWS could never have). Validation AWS has and moto lacks is
the AWS-layer tests' business (`tests/aws/strict.py`).

- SetRulePriorities: AWS checks the *final* order ("you can reorder the rules as long as
  there are no priority conflicts in the new order"), so one call may swap rules or move a
  rule into the slot of another that moves away. moto checks each new priority against the
  current ones, so removing a member from the middle of a group (every later rule moves up
  one, the removed rule moves out of the way in the same call) failed with PriorityInUse and
  stalled the group's teardown in e2e.

- CreateLoadBalancer and CreateListener are idempotent on AWS: a second call with the same
  name (load balancer) or port (listener) and the same settings returns the first one, and
  one with other settings fails (DuplicateLoadBalancerName, DuplicateListener). moto made a
  second load balancer of the same name, and a second listener on the same port, each time.
  A create whose reply is lost is retried by botocore, so the AWS fault tests hit this.

- Route 53 CREATE: AWS refuses it only when a record set of that name and type (and set
  identifier) exists. moto, once the same CREATE had been made before (the record since
  deleted), refused it whenever any record set sorted at or after that name existed (it
  asks for the records *from* that name on), so re-adding a host the controller had
  removed failed for good with InvalidChangeBatch ("already exists"); and moto never
  refused a CREATE of a record that did exist unless that exact CREATE was in its journal.
  Found by the soak (`sandbox.soak`).

- DeleteLoadBalancer: on AWS its target groups are no longer attached to it (their
  `LoadBalancerArns` lose it, and a new load balancer may use them). moto kept the deleted
  ARN there for good, so a load balancer deleted by hand could never be made again with its
  target groups: they looked attached to another one.

- authenticate-oidc's client secret: AWS never returns `ClientSecret` (CreateRule,
  DescribeRules, DescribeListeners, ...), and on ModifyRule/ModifyListener
  `UseExistingClientSecret: true` keeps the secret the action had. moto stored both keys
  verbatim: it answered with the secret, and a modify with `UseExistingClientSecret` left
  the action without one (and echoed the flag back). Here the secret is kept beside the
  action (`FakeAction.client_secret`, for tests to read) and never answered; an
  authenticate-oidc action without a secret to have is refused (`ValidationError`), as AWS
  requires one on create.

- WAFv2 AssociateWebACL: a load balancer has at most one web ACL on AWS, and associating
  another replaces it (LBC relies on that). moto added the resource to the new web ACL and
  kept it in the old one, so GetWebACLForResource could still answer the old one.

- Shield GetSubscriptionState: moto has no such operation (only DescribeSubscription); here
  it answers ACTIVE when the account has a subscription (CreateSubscription), else INACTIVE.

`python -m sandbox.motofixes -H 127.0.0.1 -p PORT` is moto's server with the corrections.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto.elbv2.exceptions import (
    DuplicateListenerError,
    DuplicateLoadBalancerName,
    ELBClientError,
    RuleNotFoundError,
)
from moto.elbv2.models import ELBv2Backend, FakeAction
from moto.route53.exceptions import ResourceRecordAlreadyExists
from moto.route53.models import ChangeList, Route53Backend
from moto.shield.responses import ShieldResponse
from moto.wafv2.models import WAFV2Backend

_create_load_balancer = ELBv2Backend.create_load_balancer
_create_listener = ELBv2Backend.create_listener
_delete_load_balancer = ELBv2Backend.delete_load_balancer
_change_resource_record_sets = Route53Backend.change_resource_record_sets
_fake_action_init = FakeAction.__init__
_associate_web_acl = WAFV2Backend.associate_web_acl
OIDC = "authenticate-oidc"


def set_rule_priorities(self: ELBv2Backend, rule_priorities: list[dict[str, Any]]) -> list[Any]:
    """AWS's semantics: duplicates in the call, or a clash with a rule that is not moving,
    are refused; anything else is applied at once."""
    moving = {rp["RuleArn"]: int(rp["Priority"]) for rp in rule_priorities}
    if len(set(moving.values())) != len(moving):
        raise ELBClientError("PriorityInUse", "duplicate priorities in one call")
    rules = []
    for arn, priority in moving.items():
        found = self.describe_rules(listener_arn=None, rule_arns=[arn])
        if not found:
            raise RuleNotFoundError()
        rule = found[0]
        listener = self.describe_listeners(None, [rule.listener_arn])[0]
        for other in listener.rules.values():
            if other.arn not in moving and other.priority == priority:
                raise ELBClientError("PriorityInUse", "The specified priority is in use.")
        rules.append((rule, priority))
    for rule, priority in rules:
        rule.priority = priority
    return [rule for rule, _ in rules]


def create_load_balancer(  # noqa: PLR0917 (moto's own signature)
    self: ELBv2Backend,
    name: str,
    security_groups: list[str],
    subnet_ids: list[str],
    subnet_mappings: list[dict[str, str]] | None = None,
    scheme: str = "internet-facing",
    loadbalancer_type: str | None = None,
    ip_address_type: str = "ipv4",
    tags: list[dict[str, str]] | None = None,
) -> Any:
    """AWS's idempotence: the same name and settings return the load balancer made first."""
    existing = next((lb for lb in self.load_balancers.values() if lb.name == name), None)
    if existing is None:
        return _create_load_balancer(self, name, security_groups, subnet_ids, subnet_mappings,
                                     scheme, loadbalancer_type, ip_address_type, tags)  # fmt: skip
    subnets = set(subnet_ids or ()) | {m["SubnetId"] for m in subnet_mappings or ()}
    same = (
        existing.scheme == scheme
        and existing.type == (loadbalancer_type or "application")
        and existing.ip_address_type == ip_address_type
        and set(existing.security_groups or ()) == set(security_groups or ())
        and {subnet.id for subnet in existing.subnets} == subnets
    )
    if not same:
        raise DuplicateLoadBalancerName()
    return existing


def create_listener(
    self: ELBv2Backend, load_balancer_arn: str, protocol: str, port: str, *args: Any, **kwargs: Any
) -> Any:
    """AWS's idempotence: the same port and protocol return the listener made first."""
    balancer = self.load_balancers.get(load_balancer_arn)
    taken = [
        li for li in (balancer.listeners.values() if balancer else ()) if str(li.port) == str(port)
    ]
    if not taken:
        return _create_listener(self, load_balancer_arn, protocol, port, *args, **kwargs)
    if taken[0].protocol != (protocol or "").upper():
        raise DuplicateListenerError()
    return taken[0]


def delete_load_balancer(self: ELBv2Backend, arn: str) -> None:
    """AWS's detach: the target groups of a deleted load balancer are attached to no other."""
    _delete_load_balancer(self, arn)
    for target_group in self.target_groups.values():
        if arn in target_group.load_balancer_arns:
            target_group.load_balancer_arns.remove(arn)


def change_resource_record_sets(
    self: Route53Backend, zoneid: str, change_list: list[dict[str, Any]]
) -> None:
    """AWS's CREATE: refused exactly when the record set exists (name, type, set id)."""
    zone = self.get_hosted_zone(zoneid)
    for change in change_list:
        if change["Action"] != "CREATE":
            continue
        record = change["ResourceRecordSet"]
        name = str(record["Name"]).rstrip(".").lower()
        for live in zone.rrsets:
            if (
                str(live.name).rstrip(".").lower() == name
                and live.type == record["Type"]
                and live.set_identifier == record.get("SetIdentifier")
            ):
                raise ResourceRecordAlreadyExists(name=f"{name}.", _type=str(record["Type"]))
    _change_resource_record_sets(self, zoneid, change_list)


def fake_action_init(self: Any, data: dict[str, Any]) -> None:
    """An action whose OIDC client secret is kept aside (`client_secret`), never in what
    moto answers."""
    self.client_secret = None
    self.use_existing_client_secret = False
    config = data.get("AuthenticateOidcConfig")
    if data.get("Type") == OIDC and isinstance(config, dict):
        config = dict(config)
        secret = config.pop("ClientSecret", None)
        self.client_secret = str(secret) if secret else None
        flag = config.pop("UseExistingClientSecret", False)
        self.use_existing_client_secret = str(flag).lower() == "true"
        data = {**data, "AuthenticateOidcConfig": config}
    _fake_action_init(self, data)


def _secret_of(actions: Any) -> str | None:
    for action in actions or ():
        if getattr(action, "type", None) == OIDC and getattr(action, "client_secret", None):
            return str(action.client_secret)
    return None


def _check_secrets(actions: Any, existing: str | None) -> None:
    """AWS's rule: an authenticate-oidc action has a ClientSecret, or (when modifying one
    that has a secret) UseExistingClientSecret."""
    for action in actions or ():
        if not isinstance(action, dict) or action.get("Type") != OIDC:
            continue
        config = action.get("AuthenticateOidcConfig") or {}
        use_existing = str(config.get("UseExistingClientSecret", False)).lower() == "true"
        if not config.get("ClientSecret") and not (use_existing and existing):
            raise ELBClientError(
                "ValidationError",
                "A client secret must be specified (UseExistingClientSecret applies only to "
                "an action that has one)",
            )


def _keep_existing(actions: Any, existing: str | None) -> None:
    for action in actions or ():
        if getattr(action, "type", None) == OIDC and action.use_existing_client_secret:
            action.client_secret = existing
            action.use_existing_client_secret = False


def secrets_on_create_rule(create_rule: Any) -> Any:
    def wrapped(self: ELBv2Backend, listener_arn: str, *args: Any, **kwargs: Any) -> Any:
        # (conditions, priority, actions, tags) positionally, or by name from moto's server
        _check_secrets(kwargs.get("actions", args[2] if len(args) > 2 else ()), None)
        return create_rule(self, listener_arn, *args, **kwargs)

    return wrapped


def secrets_on_modify_rule(modify_rule: Any) -> Any:
    def wrapped(self: ELBv2Backend, rule_arn: str, conditions: Any, actions: Any) -> Any:
        found = self.describe_rules(listener_arn=None, rule_arns=[rule_arn])
        existing = _secret_of(found[0].actions) if found else None
        _check_secrets(actions, existing)
        rule = modify_rule(self, rule_arn, conditions, actions)
        _keep_existing(rule.actions, existing)
        return rule

    return wrapped


def secrets_on_create_listener(create_listener: Any) -> Any:
    def wrapped(self: ELBv2Backend, load_balancer_arn: str, *args: Any, **kwargs: Any) -> Any:
        _check_secrets(kwargs.get("actions", args[4] if len(args) > 4 else ()), None)
        return create_listener(self, load_balancer_arn, *args, **kwargs)

    return wrapped


def secrets_on_modify_listener(modify_listener: Any) -> Any:
    def wrapped(self: ELBv2Backend, arn: str, *args: Any, **kwargs: Any) -> Any:
        actions = kwargs.get("actions", args[4] if len(args) > 4 else None)
        found = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])
        existing = _secret_of(found[0].default_actions) if found else None
        _check_secrets(actions, existing)
        listener = modify_listener(self, arn, *args, **kwargs)
        _keep_existing(listener.default_actions, existing)
        return listener

    return wrapped


def associate_web_acl(self: WAFV2Backend, web_acl_arn: str, resource_arn: str) -> None:
    """One web ACL per resource: a new association replaces the old one, as on AWS."""
    if web_acl_arn in self.wacls:
        for acl in self.wacls.values():
            if resource_arn in acl.associated_resources:
                acl.associated_resources.remove(resource_arn)
    _associate_web_acl(self, web_acl_arn, resource_arn)


def get_subscription_state(self: ShieldResponse) -> str:
    subscribed = self.shield_backend.subscription is not None
    return json.dumps({"SubscriptionState": "ACTIVE" if subscribed else "INACTIVE"})


def _journal_never_matches(self: ChangeList, item: Any) -> bool:
    """moto's own CREATE check is `change in journal` then a by-prefix lookup; it is
    replaced by the exact one above, so the journal never matches."""
    return False


def apply() -> None:
    """Correct moto in this process (its in-process server shares the backends)."""
    ELBv2Backend.set_rule_priorities = set_rule_priorities  # type: ignore[method-assign]
    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]
    ELBv2Backend.create_listener = secrets_on_create_listener(create_listener)  # type: ignore[method-assign]
    ELBv2Backend.create_rule = secrets_on_create_rule(ELBv2Backend.create_rule)  # type: ignore[method-assign]
    ELBv2Backend.modify_rule = secrets_on_modify_rule(ELBv2Backend.modify_rule)  # type: ignore[method-assign]
    ELBv2Backend.modify_listener = secrets_on_modify_listener(ELBv2Backend.modify_listener)  # type: ignore[method-assign]
    FakeAction.__init__ = fake_action_init  # type: ignore[method-assign]
    ELBv2Backend.delete_load_balancer = delete_load_balancer  # type: ignore[method-assign]
    Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]
    ChangeList.__contains__ = _journal_never_matches  # type: ignore[method-assign]
    WAFV2Backend.associate_web_acl = associate_web_acl  # type: ignore[method-assign]
    ShieldResponse.get_subscription_state = get_subscription_state  # type: ignore[attr-defined]


def main() -> None:
    from moto.server import main as moto_main  # noqa: PLC0415

    apply()
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
