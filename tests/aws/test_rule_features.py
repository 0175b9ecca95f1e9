"""LBC v3.5's rule-level features in AWS: regex conditions, rule transforms, jwt-validation
actions and target control ports, as CreateRule/ModifyRule/CreateTargetGroup send them and
DescribeRules/DescribeTargetGroups answer them (moto corrected: `sandbox.motofixes`).

The properties: a deploy that changes nothing makes no call; a changed transform is one
ModifyRule with `Transforms`, dropped ones one ModifyRule with `ResetTransforms`; a rule laid
out as LBC makes it (a regex path, a url-rewrite, jwt-validation at Order 1) is taken over
with no call; a new target control port replaces the target group, as LBC does.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.model.stack import (
    Condition,
    JwtClaim,
    JwtValidationAction,
    JwtValidationConfig,
    Listener,
    Rewrite,
    RewriteConfig,
    Rule,
    Stack,
    Transform,
)
from tests.aws.conftest import World, import_certificate
from tests.aws.stacks import (
    CLUSTER,
    HOST,
    STACK_2048,
    SVC_2048,
    Svc,
    forward,
    make_stack,
    targets,
)

JWT = JwtValidationAction(
    jwt_validation_config=JwtValidationConfig(
        jwks_endpoint="https://idp.example.com/.well-known/jwks.json",
        issuer="https://idp.example.com",
        additional_claims=(
            JwtClaim(name="scope", format="space-separated-values", values=("read:api",)),
            JwtClaim(name="role", format="string-array", values=("reader", "writer")),
        ),
    )
)


def rewrite(replace: str = "/$1") -> Transform:
    return Transform(
        type="url-rewrite",
        url_rewrite_config=RewriteConfig(rewrites=(Rewrite(regex="^/api/(.*)$", replace=replace),)),
    )


def featured_rule(
    *, jwt: bool, transforms: tuple[Transform, ...] = (rewrite(),), svc: Svc = SVC_2048
) -> Rule:
    """What the model makes of a regex path (use-regex-path-match), a transforms annotation
    and, on HTTPS, jwt-validation."""
    return Rule(
        priority=1,
        conditions=(
            Condition(field="host-header", values=(HOST,)),
            Condition(field="path-pattern", regex_values=("^/api/(.*)$",)),
        ),
        actions=(JWT, forward(svc)) if jwt else (forward(svc),),
        ingress=STACK_2048,
        transforms=transforms,
    )


def featured(
    cert: str, *, transforms: tuple[Transform, ...] = (rewrite(),), http_only: bool = False
) -> Stack:
    """The 2048 stack with the featured rule on HTTP (without the JWT) and on HTTPS."""
    stack = make_stack(https=(cert,))
    listeners: list[Listener] = []
    for listener in stack.listeners:
        https = listener.protocol == "HTTPS"
        rule = featured_rule(jwt=https, transforms=transforms if not https or not http_only else ())
        listeners.append(listener.model_copy(update={"rules": (rule,)}))
    return stack.model_copy(update={"listeners": tuple(listeners)})


@pytest.fixture
def cert(world: World) -> str:
    return import_certificate(HOST)


def _rules(world: World, lb_arn: str, port: int) -> list[dict[str, Any]]:
    found = world.elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    listener = next(li for li in found if li["Port"] == port)
    rules = world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    return [r for r in rules if not r["IsDefault"]]


def _params(clients: AwsClients, mark: int, operation: str) -> list[Any]:
    return [r.params for r in clients.counter.calls(mark) if r.key.operation == operation]


def test_regex_conditions_transforms_and_jwt_round_trip_and_a_redeploy_is_free(
    world: World, clients: AwsClients, deployer: Deployer, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    mark = clients.counter.position()
    result = deployer.deploy(featured(cert), desired)
    [http] = _rules(world, result.load_balancer_arn, 80)
    [https] = _rules(world, result.load_balancer_arn, 443)
    for rule in (http, https):
        path = next(c for c in rule["Conditions"] if c["Field"] == "path-pattern")
        assert path["PathPatternConfig"] == {"RegexValues": ["^/api/(.*)$"]}
        assert rule["Transforms"] == [
            {
                "Type": "url-rewrite",
                "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/api/(.*)$", "Replace": "/$1"}]},
            }
        ]
    first, second = sorted(https["Actions"], key=lambda a: a["Order"])
    assert (first["Type"], first["Order"], second["Type"]) == ("jwt-validation", 1, "forward")
    assert first["JwtValidationConfig"]["AdditionalClaims"] == [
        {"Format": "space-separated-values", "Name": "scope", "Values": ["read:api"]},
        {"Format": "string-array", "Name": "role", "Values": ["reader", "writer"]},
    ]
    assert [a["Type"] for a in http["Actions"]] == ["forward"]  # no JWT on HTTP
    assert all("Transforms" in p for p in _params(clients, mark, "CreateRule"))

    mark = clients.counter.position()
    deployer.deploy(featured(cert), desired)
    assert clients.counter.mutating(mark) == []


def test_a_changed_transform_is_one_modify_rule_with_the_new_transforms(
    world: World, clients: AwsClients, deployer: Deployer, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    result = deployer.deploy(featured(cert), desired)
    mark = clients.counter.position()
    deployer.deploy(featured(cert, transforms=(rewrite("/v2/$1"),)), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule", "ModifyRule"]
    sent = _params(clients, mark, "ModifyRule")
    assert all(
        p["Transforms"][0]["UrlRewriteConfig"]["Rewrites"][0]["Replace"] == "/v2/$1" for p in sent
    )
    assert not any("ResetTransforms" in p for p in sent)
    [http] = _rules(world, result.load_balancer_arn, 80)
    assert http["Transforms"][0]["UrlRewriteConfig"]["Rewrites"][0]["Replace"] == "/v2/$1"


def test_dropped_transforms_are_reset_and_then_nothing_is_sent(
    world: World, clients: AwsClients, deployer: Deployer, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    result = deployer.deploy(featured(cert), desired)
    mark = clients.counter.position()
    deployer.deploy(featured(cert, transforms=()), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule", "ModifyRule"]
    sent = _params(clients, mark, "ModifyRule")
    assert [p.get("ResetTransforms") for p in sent] == [True, True]
    assert not any("Transforms" in p for p in sent)  # AWS refuses both together
    [http] = _rules(world, result.load_balancer_arn, 80)
    assert not http.get("Transforms")

    mark = clients.counter.position()
    deployer.deploy(featured(cert, transforms=()), desired)
    assert clients.counter.mutating(mark) == []


def test_transforms_added_to_one_listeners_rule_modify_that_rule_alone(
    world: World, clients: AwsClients, deployer: Deployer, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(featured(cert, transforms=()), desired)
    mark = clients.counter.position()
    deployer.deploy(featured(cert, http_only=True), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule"]
    [sent] = _params(clients, mark, "ModifyRule")
    assert sent["Transforms"][0]["Type"] == "url-rewrite"
    assert "ResetTransforms" not in sent


def _lbc_rule(world: World, lb_arn: str, tg_arn: str) -> str:
    """Our HTTPS rule made again by hand as LBC writes it: HostHeaderConfig and a regex
    PathPatternConfig, jwt-validation at Order 1 and a ForwardConfig at 2, the transform, its
    tags (none of ours), in AWS's own spelling (claims in any order, weights given)."""
    listeners = world.elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    listener = next(li for li in listeners if li["Port"] == 443)["ListenerArn"]
    [ours] = _rules(world, lb_arn, 443)
    world.elbv2.delete_rule(RuleArn=ours["RuleArn"])
    made = world.elbv2.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/api/(.*)$"]}},
            {"Field": "host-header", "HostHeaderConfig": {"Values": [HOST]}},
        ],
        Actions=[
            {
                "Type": "jwt-validation",
                "Order": 1,
                "JwtValidationConfig": {
                    "JwksEndpoint": "https://idp.example.com/.well-known/jwks.json",
                    "Issuer": "https://idp.example.com",
                    # The claims in another order: they are ANDed, AWS keeps what it is sent.
                    "AdditionalClaims": [
                        {"Format": "string-array", "Name": "role", "Values": ["reader", "writer"]},
                        {
                            "Format": "space-separated-values",
                            "Name": "scope",
                            "Values": ["read:api"],
                        },
                    ],
                },
            },
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg_arn, "Weight": 1}]},
            },
        ],
        Transforms=[
            {
                "Type": "url-rewrite",
                "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/api/(.*)$", "Replace": "/$1"}]},
            }
        ],
        Tags=[
            {"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER},
            {"Key": "ingress.k8s.aws/stack", "Value": STACK_2048},
            {"Key": "ingress.k8s.aws/resource", "Value": "443:1"},
        ],
    )
    return str(made["Rules"][0]["RuleArn"])


def test_a_rule_lbc_made_with_regex_transform_and_jwt_is_adopted_without_a_call(
    world: World, clients: AwsClients, deployer: Deployer, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    result = deployer.deploy(featured(cert), desired)
    lbc = _lbc_rule(world, result.load_balancer_arn, result.target_group_arns[SVC_2048.tg_id])

    mark = clients.counter.position()
    deployer.deploy(featured(cert), desired)
    assert clients.counter.mutating(mark) == []
    [rule] = _rules(world, result.load_balancer_arn, 443)
    assert rule["RuleArn"] == lbc


IP_SVC = Svc(name="api", target_type="ip")


def _with_control_port(stack: Stack, port: int) -> Stack:
    """The stack with the ip target group's control port, and a name changed with it (the
    model hashes the port into the name, as LBC does)."""
    groups = tuple(
        tg.model_copy(update={"target_control_port": port, "name": f"{tg.name[:-5]}p{port}"})
        if tg.id == IP_SVC.tg_id
        else tg
        for tg in stack.target_groups
    )
    return stack.model_copy(update={"target_groups": groups})


def test_a_target_control_port_is_kept_and_a_new_one_replaces_the_target_group(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack = make_stack((("/", IP_SVC),))
    result = deployer.deploy(_with_control_port(stack, 3000), {})
    old = result.target_group_arns[IP_SVC.tg_id]
    [described] = world.elbv2.describe_target_groups(TargetGroupArns=[old])["TargetGroups"]
    assert described["TargetControlPort"] == 3000

    mark = clients.counter.position()
    deployer.deploy(_with_control_port(stack, 3000), {})
    assert clients.counter.mutating(mark) == []

    mark = clients.counter.position()
    result = deployer.deploy(_with_control_port(stack, 4000), {})
    assert clients.counter.mutating(mark) == [
        "CreateTargetGroup",
        "ModifyRule",
        "DeleteTargetGroup",
    ]
    [created] = _params(clients, mark, "CreateTargetGroup")
    assert created["TargetControlPort"] == 4000
    new = result.target_group_arns[IP_SVC.tg_id]
    assert new != old
    assert (
        world.elbv2.describe_target_groups(TargetGroupArns=[new])["TargetGroups"][0][
            "TargetControlPort"
        ]
        == 4000
    )


def _https_changed(cert: str, **update: Any) -> Stack:
    """`featured`, its HTTPS rule changed as `update` says."""
    stack = featured(cert)
    listeners = tuple(
        li.model_copy(update={"rules": (li.rules[0].model_copy(update=update),)})
        if li.protocol == "HTTPS"
        else li
        for li in stack.listeners
    )
    return stack.model_copy(update={"listeners": listeners})


def _jwt(**update: Any) -> JwtValidationAction:
    config = JWT.jwt_validation_config.model_copy(update=update)
    return JWT.model_copy(update={"jwt_validation_config": config})


HOST_CONDITION = Condition(field="host-header", values=(HOST,))
ONE_CLAIM = JWT.jwt_validation_config.additional_claims[:1]


@pytest.mark.parametrize(
    "update",
    [
        {"conditions": (HOST_CONDITION, Condition(field="path-pattern", regex_values=("^/v2",)))},
        # The path as a glob: another kind of condition, not the same one.
        {"conditions": (HOST_CONDITION, Condition(field="path-pattern", values=("/api/*",)))},
        {"actions": (_jwt(issuer="https://other.example.com"), forward(SVC_2048))},
        {"actions": (_jwt(additional_claims=ONE_CLAIM), forward(SVC_2048))},
    ],
    ids=["regex", "regex-to-glob", "issuer", "claims"],
)
def test_a_changed_regex_or_jwt_setting_is_one_modify_rule(
    world: World, clients: AwsClients, deployer: Deployer, cert: str, update: dict[str, Any]
) -> None:
    desired = targets(SVC_2048, world.nodes)
    deployer.deploy(featured(cert), desired)
    mark = clients.counter.position()
    deployer.deploy(_https_changed(cert, **update), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule"]
    mark = clients.counter.position()
    deployer.deploy(_https_changed(cert, **update), desired)
    assert clients.counter.mutating(mark) == []
