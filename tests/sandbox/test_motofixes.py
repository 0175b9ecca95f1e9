"""The sandbox's moto server answers as AWS does where plain moto does not
(`sandbox.motofixes`): a reorder AWS takes, and creates AWS makes once.

Removing a member from the middle of a group moves every later rule up one and the removed
rule out of the way in one SetRulePriorities call. AWS checks the final order and accepts
it; plain moto refused it (PriorityInUse), which stalled a group's teardown in e2e.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import MotoProcess, aws_client


@pytest.fixture(scope="module")
def elbv2() -> Iterator[Any]:
    moto = MotoProcess().start()
    try:
        yield aws_client("elbv2", moto.url)
    finally:
        moto.stop()


def _subnets(ec2: Any, second: int) -> list[str]:
    vpc = ec2.create_vpc(CidrBlock=f"10.{second}.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second}.{i}.0/24",
                          AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]  # fmt: skip


def _listener(elbv2: Any, ec2: Any) -> str:
    subnets = _subnets(ec2, 9)
    lb = elbv2.create_load_balancer(Name="reorder", Subnets=subnets)["LoadBalancers"][0]
    return str(elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response",
                         "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"])  # fmt: skip


def test_a_rule_may_move_into_the_slot_of_one_moving_away(elbv2: Any) -> None:
    endpoint = elbv2.meta.endpoint_url
    listener = _listener(elbv2, aws_client("ec2", endpoint))
    arns = [
        elbv2.create_rule(
            ListenerArn=listener, Priority=p,
            Conditions=[{"Field": "path-pattern", "Values": [f"/{p}"]}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        )["Rules"][0]["RuleArn"]
        for p in (1, 2, 3)
    ]  # fmt: skip
    elbv2.set_rule_priorities(RulePriorities=[
        {"RuleArn": arns[2], "Priority": 2}, {"RuleArn": arns[1], "Priority": 50000}])  # fmt: skip
    rules = elbv2.describe_rules(ListenerArn=listener)["Rules"]
    assert {r["RuleArn"]: r["Priority"] for r in rules if not r["IsDefault"]} == {
        arns[0]: "1", arns[1]: "50000", arns[2]: "2"}  # fmt: skip
    # A clash with a rule that stays put is still refused, as AWS does.
    with pytest.raises(ClientError, match="PriorityInUse"):
        elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": arns[2], "Priority": 1}])


def test_a_repeated_create_returns_the_first_load_balancer_and_listener(elbv2: Any) -> None:
    """botocore retries a create whose reply was lost; AWS then hands back the first one."""
    subnets = _subnets(aws_client("ec2", elbv2.meta.endpoint_url), 8)
    made = [elbv2.create_load_balancer(Name="twice", Subnets=subnets)["LoadBalancers"][0]
            for _ in range(2)]  # fmt: skip
    assert made[0]["LoadBalancerArn"] == made[1]["LoadBalancerArn"]
    with pytest.raises(ClientError, match="DuplicateLoadBalancerName"):
        elbv2.create_load_balancer(Name="twice", Subnets=subnets, Scheme="internal")
    lb = made[0]["LoadBalancerArn"]
    action = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
    listeners = [elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                       DefaultActions=action)["Listeners"][0]
                 for _ in range(2)]  # fmt: skip
    assert listeners[0]["ListenerArn"] == listeners[1]["ListenerArn"]
    assert len(elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]) == 1
    with pytest.raises(ClientError, match="DuplicateListener"):
        elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=80, DefaultActions=action,
                              Certificates=[{"CertificateArn": "arn:x"}])  # fmt: skip


def test_a_deleted_load_balancer_lets_its_target_groups_go(elbv2: Any) -> None:
    """AWS detaches a deleted load balancer's target groups; moto kept them attached."""
    ec2 = aws_client("ec2", elbv2.meta.endpoint_url)
    subnets = _subnets(ec2, 7)
    vpc = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    lb = elbv2.create_load_balancer(Name="deleted", Subnets=subnets)["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="orphan", Protocol="HTTP", Port=80, VpcId=vpc)
    tg_arn = tg["TargetGroups"][0]["TargetGroupArn"]
    action = [{"Type": "forward", "TargetGroupArn": tg_arn}]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=action)  # fmt: skip
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    [found] = elbv2.describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"]
    assert found["LoadBalancerArns"] == []


def test_an_oidc_client_secret_is_kept_never_answered(elbv2: Any) -> None:
    """AWS never returns ClientSecret, and UseExistingClientSecret keeps the one the action
    has; moto answered with the secret and forgot it on such a modify."""
    listener = _listener_named(elbv2, "secrets", 6)
    config = {"Issuer": "https://i", "AuthorizationEndpoint": "https://i/a",
              "TokenEndpoint": "https://i/t", "UserInfoEndpoint": "https://i/u",
              "ClientId": "client"}  # fmt: skip
    fixed = {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "200"}}

    def oidc(**extra: Any) -> list[dict[str, Any]]:
        auth = {"Type": "authenticate-oidc", "Order": 1,
                "AuthenticateOidcConfig": {**config, **extra}}  # fmt: skip
        return [auth, fixed]

    conditions = [{"Field": "path-pattern", "Values": ["/app"]}]
    with pytest.raises(ClientError, match="client secret must be specified"):
        elbv2.create_rule(ListenerArn=listener, Priority=1, Conditions=conditions,
                          Actions=oidc(UseExistingClientSecret=True))  # fmt: skip
    made = elbv2.create_rule(ListenerArn=listener, Priority=1, Conditions=conditions,
                             Actions=oidc(ClientSecret="s3cr3t"))["Rules"][0]  # fmt: skip
    arn = made["RuleArn"]

    def answered() -> dict[str, Any]:
        [rule] = elbv2.describe_rules(RuleArns=[arn])["Rules"]
        auth = next(a for a in rule["Actions"] if a["Type"] == "authenticate-oidc")
        return dict(auth["AuthenticateOidcConfig"])

    assert "ClientSecret" not in made["Actions"][0]["AuthenticateOidcConfig"]
    assert answered() == {**config, "ClientId": "client"}
    # Twice: the second is accepted only if the first kept the secret.
    for _ in range(2):
        elbv2.modify_rule(RuleArn=arn, Actions=oidc(UseExistingClientSecret=True, Scope="email"))
        assert "ClientSecret" not in answered() and "UseExistingClientSecret" not in answered()
    other = elbv2.create_rule(ListenerArn=listener, Priority=2,
                              Conditions=[{"Field": "path-pattern", "Values": ["/other"]}],
                              Actions=[{**fixed, "Order": 1}])["Rules"][0]["RuleArn"]  # fmt: skip
    with pytest.raises(ClientError, match="client secret must be specified"):
        elbv2.modify_rule(RuleArn=other, Actions=oidc(UseExistingClientSecret=True))


def _listener_named(elbv2: Any, name: str, second: int) -> str:
    subnets = _subnets(aws_client("ec2", elbv2.meta.endpoint_url), second)
    lb = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
    return str(elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response",
                         "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"])  # fmt: skip


def test_regex_conditions_jwt_transforms_and_control_ports_are_kept(elbv2: Any) -> None:
    """AWS takes and answers RegexValues, jwt-validation, Transforms (ResetTransforms
    removes them, a ModifyRule with neither keeps them) and TargetControlPort; moto failed
    on RegexValues (a KeyError), refused jwt-validation and dropped the other two."""
    listener = _listener_named(elbv2, "features", 5)
    rewrite = [
        {
            "Type": "url-rewrite",
            "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a/(.*)$", "Replace": "/$1"}]},
        }
    ]
    regex = [{"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/a/(.*)$"]}}]
    jwt = {
        "Type": "jwt-validation",
        "Order": 1,
        "JwtValidationConfig": {"JwksEndpoint": "https://i/jwks", "Issuer": "https://i"},
    }
    fixed = {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "200"}}
    arn = elbv2.create_rule(
        ListenerArn=listener, Priority=1, Conditions=regex, Actions=[jwt, fixed], Transforms=rewrite
    )["Rules"][0]["RuleArn"]

    def answered() -> dict[str, Any]:
        [rule] = elbv2.describe_rules(RuleArns=[arn])["Rules"]
        return dict(rule)

    rule = answered()
    assert rule["Conditions"] == regex and rule["Transforms"] == rewrite
    assert rule["Actions"][0]["JwtValidationConfig"]["Issuer"] == "https://i"
    elbv2.modify_rule(RuleArn=arn, Conditions=regex, Actions=[jwt, fixed])
    assert answered()["Transforms"] == rewrite
    with pytest.raises(ClientError, match="cannot be specified together"):
        elbv2.modify_rule(RuleArn=arn, Actions=[fixed], Transforms=rewrite, ResetTransforms=True)
    elbv2.modify_rule(RuleArn=arn, Actions=[{**fixed, "Order": 1}], ResetTransforms=True)
    assert not answered().get("Transforms")
    both = [
        {
            "Field": "host-header",
            "HostHeaderConfig": {"Values": ["a.example.com"], "RegexValues": ["^a"]},
        }
    ]
    with pytest.raises(ClientError, match="exactly one of Values and RegexValues"):
        elbv2.create_rule(ListenerArn=listener, Priority=2, Conditions=both, Actions=[fixed])
    with pytest.raises(ClientError, match="only one 'url-rewrite'"):
        elbv2.create_rule(
            ListenerArn=listener,
            Priority=2,
            Conditions=regex,
            Actions=[fixed],
            Transforms=rewrite * 2,
        )

    ec2 = aws_client("ec2", elbv2.meta.endpoint_url)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    tg = elbv2.create_target_group(
        Name="optimized",
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        TargetType="ip",
        TargetControlPort=3000,
    )["TargetGroups"][0]
    [found] = elbv2.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])["TargetGroups"]
    assert found["TargetControlPort"] == 3000


def test_target_health_follows_the_sandbox_tags_of_the_target_group(elbv2: Any) -> None:
    # moto says healthy at once; AWS health-checks first and may fail a target.
    ec2 = aws_client("ec2", elbv2.meta.endpoint_url)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    arn = elbv2.create_target_group(
        Name="health", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
        Tags=[{"Key": "sandbox/initial-health-seconds", "Value": "3600"},
              {"Key": "sandbox/failing-targets", "Value": "10.8.0.9"}],
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    elbv2.register_targets(
        TargetGroupArn=arn, Targets=[{"Id": "10.8.0.5", "Port": 80}, {"Id": "10.8.0.9", "Port": 80}]
    )

    def states() -> dict[str, tuple[str, str]]:
        found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        health = {d["Target"]["Id"]: d["TargetHealth"] for d in found}
        return {target: (h["State"], h.get("Reason", "")) for target, h in health.items()}

    assert states() == {
        "10.8.0.5": ("initial", "Elb.InitialHealthChecking"),
        "10.8.0.9": ("unhealthy", "Target.FailedHealthChecks"),
    }
    # Without the tags, moto's own answer.
    elbv2.remove_tags(
        ResourceArns=[arn], TagKeys=["sandbox/initial-health-seconds", "sandbox/failing-targets"]
    )
    assert {state for state, _ in states().values()} == {"healthy"}
