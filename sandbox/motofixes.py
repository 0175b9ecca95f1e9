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
  Found by the soak (`sandbox.soak`). AWS applies a batch in order, so a DELETE may make room
  for a CREATE of the same record set in the same batch (a record replaced by one with
  another kind of routing policy); the check follows the batch change by change.

- Route 53 DELETE of a record set with a SetIdentifier (weighted, latency, failover,
  geolocation): AWS deletes that record set, found by name, type and set identifier, and
  refuses the change when there is none ("it was not found"). moto deleted every record set
  of the zone with that set identifier, whatever its name and type, so deleting one
  cluster's weighted alias also deleted its ownership TXT (which carries the same set
  identifier) and any other name's record set that happened to share it.

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

- CreateLoadBalancer's CustomerOwnedIpv4Pool and IpamPools: moto dropped both, so a load
  balancer never had them and every later deploy saw a difference. Here they are kept on the
  load balancer and answered by DescribeLoadBalancers (moto serializes them from it).
- ModifyIpPools and ModifyCapacityReservation: moto has neither (DescribeCapacityReservation
  answered "provisioned" and no capacity for every load balancer). Here the IPAM pool and the
  LCU reservation are stored on the load balancer; DescribeCapacityReservation answers the
  reservation (provisioned in each of its zones), or nothing when there is none, as AWS does.
  AWS's validation of the reservation is the AWS-layer tests' (`tests/aws/strict.py`).

- Rule conditions with RegexValues (host-header, path-pattern, http-header): AWS matches a
  condition by Values or by RegexValues (one of them, at most 128 characters each). moto
  read only `Values`, and failed with a KeyError (a 500) on a PathPatternConfig or
  HostHeaderConfig without it, so no regex condition could be made.
- jwt-validation actions (JwtValidationConfig: JwksEndpoint, Issuer, AdditionalClaims):
  AWS takes them on HTTPS listeners (the AWS-layer tests check the listener); moto refused
  the type (ValidationError). Here they are kept and answered like the other actions.
- Rule transforms (CreateRule/ModifyRule `Transforms`, ModifyRule `ResetTransforms`): moto
  dropped them, so DescribeRules never showed a rule's transforms and every deploy saw a
  difference. Here they are checked as AWS checks them (a known type with its config, one of
  each type, Transforms and ResetTransforms not together), kept on the rule, answered by
  DescribeRules; a ModifyRule with neither keeps them, as on AWS.
- CreateTargetGroup's TargetControlPort: moto dropped it. Here it is kept (1..65535) and
  answered by DescribeTargetGroups; like AWS, nothing modifies it afterwards.

- Trust stores and listener mTLS (`MutualAuthentication`): moto has no trust stores and
  dropped the listener's MutualAuthentication. Here CreateTrustStore (the CA bundle's S3
  object is not read), DescribeTrustStores (by name or ARN; TrustStoreNotFound when one asked
  for does not exist) and DeleteTrustStore keep them on the backend, and CreateListener and
  ModifyListener keep the listener's MutualAuthentication with AWS's checks: a mode of off,
  passthrough or verify, verify with a trust store that exists, a trust store and
  IgnoreClientCertificateExpiry with verify only, HTTPS listeners only.

- Target health: moto reports a target `healthy` the moment it is registered, and has no
  way to fail one; AWS health-checks it first (`initial`, `Elb.InitialHealthChecking`, for
  its healthy threshold times its interval) and reports failures (`unhealthy`). A target
  group tagged `sandbox/initial-health-seconds=<s>` (the Ingress annotation
  `alb.ingress.kubernetes.io/tags` can set it) answers `initial` for a target registered
  less than <s> seconds ago, and one tagged `sandbox/failing-targets=<id> <id>...`
  answers `unhealthy` (`Target.FailedHealthChecks`) for those; untagged groups answer as
  moto does. Pod readiness gate tests need both (`TARGET_HEALTH`).

`python -m sandbox.motofixes -H 127.0.0.1 -p PORT` is moto's server with the corrections.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.elbv2.exceptions import (
    DuplicateListenerError,
    DuplicateLoadBalancerName,
    ELBClientError,
    LoadBalancerNotFoundError,
    RuleNotFoundError,
)
from moto.elbv2.models import (
    ELBv2Backend,
    FakeAction,
    FakeHealthStatus,
    FakeLoadBalancer,
    FakeTargetGroup,
)
from moto.elbv2.responses import ELBV2Response
from moto.route53.exceptions import ResourceRecordAlreadyExists, Route53ClientError
from moto.route53.models import ChangeList, Route53Backend
from moto.shield.responses import ShieldResponse
from moto.wafv2.models import WAFV2Backend

_create_load_balancer = ELBv2Backend.create_load_balancer
_create_listener = ELBv2Backend.create_listener
_delete_load_balancer = ELBv2Backend.delete_load_balancer
_change_resource_record_sets = Route53Backend.change_resource_record_sets
_fake_action_init = FakeAction.__init__
_associate_web_acl = WAFV2Backend.associate_web_acl
_create_load_balancer_response = ELBV2Response.create_load_balancer
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


def _record_key(name: object, record_type: object, identifier: object) -> tuple[str, str, str]:
    return (str(name).rstrip(".").lower(), str(record_type), str(identifier or ""))


def change_resource_record_sets(
    self: Route53Backend, zoneid: str, change_list: list[dict[str, Any]]
) -> None:
    """AWS's batch, change by change: a CREATE is refused exactly when the record set (name,
    type, set id) exists at that point of the batch, and a DELETE of a record set with a set
    identifier removes that record set alone (or is refused when there is none)."""
    zone = self.get_hosted_zone(zoneid)
    present = {_record_key(r.name, r.type, r.set_identifier) for r in zone.rrsets}
    for change in change_list:
        record = change["ResourceRecordSet"]
        key = _record_key(record["Name"], record["Type"], record.get("SetIdentifier"))
        if change["Action"] == "CREATE" and key in present:
            raise ResourceRecordAlreadyExists(name=f"{key[0]}.", _type=key[1])
        if change["Action"] == "DELETE" and key[2] and key not in present:
            raise Route53ClientError(
                "InvalidChangeBatch",
                f"Tried to delete resource record set [name='{key[0]}.', type='{key[1]}', "
                f"set-identifier='{key[2]}'] but it was not found",
            )
        if change["Action"] == "DELETE":
            present.discard(key)
        else:
            present.add(key)
    # moto's own code for everything but DELETEs with a set identifier, in batch order.
    pending: list[dict[str, Any]] = []
    for change in change_list:
        record = change["ResourceRecordSet"]
        if change["Action"] != "DELETE" or not record.get("SetIdentifier"):
            pending.append(change)
            continue
        if pending:
            _change_resource_record_sets(self, zoneid, pending)
            pending = []
        key = _record_key(record["Name"], record["Type"], record["SetIdentifier"])
        zone.rrsets = [
            r for r in zone.rrsets if _record_key(r.name, r.type, r.set_identifier) != key
        ]
        zone.rr_changes.append(copy.deepcopy(change))
    if pending:
        _change_resource_record_sets(self, zoneid, pending)


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


def create_load_balancer_response(self: ELBV2Response) -> ActionResult:
    """CreateLoadBalancer, keeping the address pools moto drops."""
    params = self._get_params()
    result = _create_load_balancer_response(self)
    made = next(
        (lb for lb in self.elbv2_backend.load_balancers.values() if lb.name == params.get("Name")),
        None,
    )
    if made is not None:
        # moto serializes a load balancer's attributes by the shape's member names.
        if params.get("CustomerOwnedIpv4Pool"):
            setattr(made, "customer_owned_ipv4_pool", params["CustomerOwnedIpv4Pool"])  # noqa: B010
        if (params.get("IpamPools") or {}).get("Ipv4IpamPoolId"):
            pools = {"Ipv4IpamPoolId": params["IpamPools"]["Ipv4IpamPoolId"]}
            setattr(made, "ipam_pools", pools)  # noqa: B010
    return result


def _balancer(backend: ELBv2Backend, arn: str) -> FakeLoadBalancer:
    found = backend.load_balancers.get(arn)
    if found is None:
        raise LoadBalancerNotFoundError()
    return found


def modify_ip_pools(
    self: ELBv2Backend, arn: str, pool: str | None, remove: bool
) -> dict[str, str] | None:
    """Set the load balancer's IPv4 IPAM pool, or remove it; its pools after."""
    lb = _balancer(self, arn)
    if remove:
        setattr(lb, "ipam_pools", None)  # noqa: B010
    if pool:
        setattr(lb, "ipam_pools", {"Ipv4IpamPoolId": pool})  # noqa: B010
    pools: dict[str, str] | None = getattr(lb, "ipam_pools", None)
    return pools


def modify_ip_pools_response(self: ELBV2Response) -> ActionResult:
    params = self._get_params()
    pools = self.elbv2_backend.modify_ip_pools(  # type: ignore[attr-defined]
        params["LoadBalancerArn"],
        (params.get("IpamPools") or {}).get("Ipv4IpamPoolId"),
        "ipv4" in (params.get("RemoveIpamPools") or ()),
    )
    return ActionResult({"IpamPools": pools or {}})


def modify_capacity_reservation(self: ELBv2Backend, arn: str, units: int | None) -> None:
    """Store the LCU reservation (None: reset)."""
    setattr(_balancer(self, arn), "capacity_units", units)  # noqa: B010


def capacity_reservation(self: ELBv2Backend, arn: str) -> dict[str, Any]:
    """DescribeCapacityReservation's answer: nothing without a reservation (AWS), else the
    reservation, provisioned in each zone."""
    lb = _balancer(self, arn)
    units = getattr(lb, "capacity_units", None)
    if units is None:
        return {}
    zones = [subnet.availability_zone for subnet in lb.subnets]
    return {
        "MinimumLoadBalancerCapacity": {"CapacityUnits": units},
        "DecreaseRequestsRemaining": 2,
        "CapacityReservationState": [
            {
                "AvailabilityZone": zone,
                "State": {"Code": "provisioned"},
                "EffectiveCapacityUnits": units / max(len(zones), 1),
            }
            for zone in zones
        ],
    }


def modify_capacity_reservation_response(self: ELBV2Response) -> ActionResult:
    params = self._get_params()
    arn = params["LoadBalancerArn"]
    reset = str(params.get("ResetCapacityReservation", "")).lower() == "true"
    units = (params.get("MinimumLoadBalancerCapacity") or {}).get("CapacityUnits")
    if reset == (units is not None):
        raise ELBClientError(
            "ValidationError",
            "Specify exactly one of MinimumLoadBalancerCapacity and ResetCapacityReservation",
        )
    self.elbv2_backend.modify_capacity_reservation(  # type: ignore[attr-defined]
        arn, None if units is None else int(str(units))
    )
    return ActionResult(self.elbv2_backend.capacity_reservation(arn))  # type: ignore[attr-defined]


def describe_capacity_reservation_response(self: ELBV2Response) -> ActionResult:
    arn = self._get_param("LoadBalancerArn")
    return ActionResult(self.elbv2_backend.capacity_reservation(arn))  # type: ignore[attr-defined]


# (class, name, replacement) of the address-pool and capacity corrections, for `apply` and
# for the AWS-layer tests' strict moto.
POOLS_AND_CAPACITY: tuple[tuple[type, str, Any], ...] = (
    (ELBV2Response, "create_load_balancer", create_load_balancer_response),
    (ELBV2Response, "modify_ip_pools", modify_ip_pools_response),
    (ELBV2Response, "modify_capacity_reservation", modify_capacity_reservation_response),
    (ELBV2Response, "describe_capacity_reservation", describe_capacity_reservation_response),
    (ELBv2Backend, "modify_ip_pools", modify_ip_pools),
    (ELBv2Backend, "modify_capacity_reservation", modify_capacity_reservation),
    (ELBv2Backend, "capacity_reservation", capacity_reservation),
)


# --- rule features of LBC v3.5: regex conditions, jwt-validation, transforms, control port --

_CONDITION_KEYS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
}
_TRANSFORM_CONFIGS = {
    "url-rewrite": "UrlRewriteConfig",
    "host-header-rewrite": "HostHeaderRewriteConfig",
}
_validate_actions = ELBv2Backend._validate_actions
_create_rule_response = ELBV2Response.create_rule
_modify_rule_response = ELBV2Response.modify_rule
_create_target_group_response = ELBV2Response.create_target_group


def _invalid(message: str) -> ELBClientError:
    return ELBClientError("ValidationError", message)


def _matched_values(condition: dict[str, Any]) -> list[Any]:
    """A host-header, path-pattern or http-header condition's Values or RegexValues: one of
    them, as AWS requires (the legacy top-level Values counts as Values)."""
    field = str(condition.get("Field"))
    config = condition.get(_CONDITION_KEYS[field]) or {}
    values, regexes = config.get("Values"), config.get("RegexValues")
    if values is None and "Values" in condition:
        values = condition["Values"]
    if bool(values) == bool(regexes):
        raise _invalid(f"A '{field}' condition needs exactly one of Values and RegexValues")
    found: list[Any] = list(values or regexes or ())
    return found


def validate_matched_condition(self: ELBv2Backend, condition: dict[str, Any]) -> None:
    """moto's host-header, path-pattern and http-header checks, RegexValues taught."""
    field = str(condition.get("Field"))
    if field == "http-header":
        config = condition.get("HttpHeaderConfig")
        if not config:
            raise _invalid("A 'HttpHeaderConfig' must be specified with 'http-header'")
        if len(str(config.get("HttpHeaderName", ""))) > 40:
            raise _invalid("The 'HttpHeaderName' value is too long; the limit is '40'")
    for value in _matched_values(condition):
        if len(str(value)) > 128:
            raise _invalid(f"The '{field}' value is too long; the limit is '128'")


def validate_actions(self: ELBv2Backend, actions: list[Any]) -> None:
    """moto's checks for the actions it knows; jwt-validation checked as AWS requires."""
    known = []
    for action in actions:
        if action.type != "jwt-validation":
            known.append(action)
            continue
        config = action.data.get("JwtValidationConfig") or {}
        if not config.get("JwksEndpoint") or not config.get("Issuer"):
            raise _invalid("A jwt-validation action needs JwksEndpoint and Issuer")
    _validate_actions(self, known)


def _checked_transforms(transforms: Any) -> list[dict[str, Any]]:
    """The transforms as AWS takes them, or its ValidationError."""
    seen: set[str] = set()
    for transform in transforms or ():
        kind = str(transform.get("Type"))
        key = _TRANSFORM_CONFIGS.get(kind)
        if key is None:
            raise _invalid(f"Unknown transform type '{kind}'")
        if kind in seen:
            raise _invalid(f"A rule can have only one '{kind}' transform")
        seen.add(kind)
        rewrites = (transform.get(key) or {}).get("Rewrites") or []
        if not rewrites or any("Regex" not in r or "Replace" not in r for r in rewrites):
            raise _invalid(f"A '{kind}' transform needs {key} with Rewrites (Regex, Replace)")
    return [dict(t) for t in transforms or ()]


def create_rule_response(self: ELBV2Response) -> ActionResult:
    """CreateRule, keeping the transforms moto drops."""
    transforms = _checked_transforms(self._get_params().get("Transforms"))
    result = _create_rule_response(self)
    for rule in result.result["Rules"]:  # type: ignore[index]
        setattr(rule, "transforms", transforms)  # noqa: B010 (serialized by member name)
    return result


def modify_rule_response(self: ELBV2Response) -> ActionResult:
    """ModifyRule: Transforms replace the rule's, ResetTransforms removes them, neither keeps
    them."""
    params = self._get_params()
    reset = str(params.get("ResetTransforms", "")).lower() == "true"
    if reset and params.get("Transforms"):
        raise _invalid("Transforms and ResetTransforms cannot be specified together")
    transforms = _checked_transforms(params.get("Transforms"))
    result = _modify_rule_response(self)
    for rule in result.result["Rules"]:  # type: ignore[index]
        if transforms or reset:
            setattr(rule, "transforms", transforms)  # noqa: B010
    return result


def create_target_group_response(self: ELBV2Response) -> ActionResult:
    """CreateTargetGroup, keeping the TargetControlPort moto drops."""
    raw = self._get_params().get("TargetControlPort")
    port = None if raw is None else int(str(raw))
    if port is not None and not 1 <= port <= 65535:
        raise _invalid("TargetControlPort must be 1..65535")
    result = _create_target_group_response(self)
    if port is not None:
        for group in result.result["TargetGroups"]:  # type: ignore[index]
            setattr(group, "target_control_port", port)  # noqa: B010
    return result


# (class, name, replacement) of the rule-feature corrections, for `apply` and for the
# AWS-layer tests' strict moto.
RULE_FEATURES: tuple[tuple[type, str, Any], ...] = (
    (ELBv2Backend, "_validate_host_header_condition", validate_matched_condition),
    (ELBv2Backend, "_validate_path_pattern_condition", validate_matched_condition),
    (ELBv2Backend, "_validate_http_header_condition", validate_matched_condition),
    (ELBv2Backend, "_validate_actions", validate_actions),
    (ELBV2Response, "create_rule", create_rule_response),
    (ELBV2Response, "modify_rule", modify_rule_response),
    (ELBV2Response, "create_target_group", create_target_group_response),
)


# --- trust stores and listener mTLS ---------------------------------------------------------

_create_listener_response = ELBV2Response.create_listener
_modify_listener_response = ELBV2Response.modify_listener


def _trust_stores(backend: ELBv2Backend) -> dict[str, dict[str, Any]]:
    """The backend's trust stores by ARN (made on first use: moto has none)."""
    stores: dict[str, dict[str, Any]] | None = getattr(backend, "trust_stores", None)
    if stores is None:
        stores = {}
        setattr(backend, "trust_stores", stores)  # noqa: B010
    return stores


def create_trust_store_response(self: ELBV2Response) -> ActionResult:
    name = str(self._get_param("Name"))
    stores = _trust_stores(self.elbv2_backend)
    if any(s["Name"] == name for s in stores.values()):
        raise ELBClientError("DuplicateTrustStoreName", f"A trust store named {name} exists")
    backend = self.elbv2_backend
    arn = (
        f"arn:aws:elasticloadbalancing:{backend.region_name}:{backend.account_id}:"
        f"truststore/{name}/{len(stores) + 1:016x}"
    )
    stores[arn] = {"Name": name, "TrustStoreArn": arn, "Status": "ACTIVE",
                   "NumberOfCaCertificates": 1, "TotalRevokedEntries": 0}  # fmt: skip
    return ActionResult({"TrustStores": [stores[arn]]})


def describe_trust_stores_response(self: ELBV2Response) -> ActionResult:
    stores = _trust_stores(self.elbv2_backend)
    names = self._get_param("Names", [])
    arns = self._get_param("TrustStoreArns", [])
    found = [s for s in stores.values() if (not names or s["Name"] in names)
             and (not arns or s["TrustStoreArn"] in arns)]  # fmt: skip
    if (names or arns) and len(found) < len(names) + len(arns):
        raise ELBClientError("TrustStoreNotFound", "One or more trust stores not found")
    return ActionResult({"TrustStores": found})


def delete_trust_store_response(self: ELBV2Response) -> ActionResult:
    arn = str(self._get_param("TrustStoreArn"))
    if _trust_stores(self.elbv2_backend).pop(arn, None) is None:
        raise ELBClientError("TrustStoreNotFound", f"Trust store {arn} not found")
    return ActionResult({})


def _checked_mtls(backend: ELBv2Backend, wanted: Any, protocol: str | None) -> dict[str, Any]:
    """MutualAuthentication as AWS checks it; what the listener keeps."""
    mode = str(wanted.get("Mode") or "off")
    if mode not in ("off", "passthrough", "verify"):
        raise _invalid(f"Mutual authentication mode '{mode}' is not valid")
    if (protocol or "").upper() != "HTTPS" and mode != "off":
        raise _invalid("Mutual authentication is supported on HTTPS listeners only")
    store = wanted.get("TrustStoreArn")
    ignore = wanted.get("IgnoreClientCertificateExpiry")
    if mode != "verify" and (store or ignore is not None):
        raise _invalid(f"A trust store cannot be used with mutual authentication mode {mode}")
    kept: dict[str, Any] = {"Mode": mode}
    if mode == "verify":
        if not store or store not in _trust_stores(backend):
            raise ELBClientError("TrustStoreNotFound", f"Trust store '{store}' not found")
        kept.update(TrustStoreArn=store,
                    IgnoreClientCertificateExpiry=str(ignore).lower() == "true",
                    TrustStoreAssociationStatus="active")  # fmt: skip
        if wanted.get("AdvertiseTrustStoreCaNames"):
            kept["AdvertiseTrustStoreCaNames"] = wanted["AdvertiseTrustStoreCaNames"]
    return kept


def create_listener_response(self: ELBV2Response) -> ActionResult:
    wanted = self._get_params().get("MutualAuthentication")
    kept = None
    if wanted:
        kept = _checked_mtls(self.elbv2_backend, wanted, self._get_param("Protocol"))
    result = _create_listener_response(self)
    balancer = self.elbv2_backend.load_balancers.get(self._get_param("LoadBalancerArn"))
    port = str(self._get_param("Port"))
    for listener in balancer.listeners.values() if balancer and kept else ():
        if str(listener.port) == port:
            setattr(listener, "mutual_authentication", kept)  # noqa: B010
    return result


def modify_listener_response(self: ELBV2Response) -> ActionResult:
    wanted = self._get_params().get("MutualAuthentication")
    listener = next(
        (li for lb in self.elbv2_backend.load_balancers.values()
         for li in lb.listeners.values() if li.arn == self._get_param("ListenerArn")),
        None,
    )  # fmt: skip
    kept = None
    if wanted and listener is not None:
        protocol = self._get_param("Protocol") or listener.protocol
        kept = _checked_mtls(self.elbv2_backend, wanted, protocol)
    result = _modify_listener_response(self)
    if kept is not None and listener is not None:
        setattr(listener, "mutual_authentication", kept)  # noqa: B010
    return result


MUTUAL_TLS: tuple[tuple[type, str, Any], ...] = (
    (ELBV2Response, "create_trust_store", create_trust_store_response),
    (ELBV2Response, "describe_trust_stores", describe_trust_stores_response),
    (ELBV2Response, "delete_trust_store", delete_trust_store_response),
    (ELBV2Response, "create_listener", create_listener_response),
    (ELBV2Response, "modify_listener", modify_listener_response),
)


INITIAL_HEALTH_TAG = "sandbox/initial-health-seconds"
FAILING_TARGETS_TAG = "sandbox/failing-targets"
_register_targets = FakeTargetGroup.register
_describe_target_health = ELBv2Backend.describe_target_health


def register_targets(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    """moto's, remembering when each target was registered (for `initial`)."""
    _register_targets(self, targets)
    registered = self.__dict__.setdefault("sandbox_registered_at", {})
    now = time.monotonic()
    for target in targets:
        registered[target["Id"]] = now


def describe_target_health(
    self: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]
) -> list[FakeHealthStatus]:
    """moto's answer, with the health the target group's sandbox tags ask for."""
    found = _describe_target_health(self, target_group_arn, targets)
    tags = self.tagging_service.get_tag_dict_for_resource(target_group_arn)
    try:
        initial = float(tags.get(INITIAL_HEALTH_TAG) or 0)
    except ValueError:
        initial = 0.0
    failing = set((tags.get(FAILING_TARGETS_TAG) or "").split())
    if not initial and not failing:
        return found
    group = self.target_groups[target_group_arn]
    registered = group.__dict__.get("sandbox_registered_at", {})
    now = time.monotonic()
    for status in found:
        if status.status != "healthy":
            continue
        if status.instance_id in failing:
            status.status, status.reason = "unhealthy", "Target.FailedHealthChecks"
            status.description = "Health checks failed"
        elif now - registered.get(status.instance_id, now - initial) < initial:
            status.status, status.reason = "initial", "Elb.InitialHealthChecking"
            status.description = "Initial health checks in progress"
    return found


TARGET_HEALTH: tuple[tuple[type, str, Any], ...] = (
    (FakeTargetGroup, "register", register_targets),
    (ELBv2Backend, "describe_target_health", describe_target_health),
)


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
    for owner, name, replacement in (
        *POOLS_AND_CAPACITY,
        *RULE_FEATURES,
        *MUTUAL_TLS,
        *TARGET_HEALTH,
    ):
        setattr(owner, name, replacement)


def main() -> None:
    from moto.server import main as moto_main  # noqa: PLC0415

    apply()
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
