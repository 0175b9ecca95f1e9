"""Authenticate actions in AWS: sent as LBC sends them, compared field by field, the OIDC
client secret read only when AWS must be sent it (`controller/aws/client_secrets.py`).

The adoption property: a rule aws-load-balancer-controller wrote (authenticate-oidc at
Order 1, the forward at Order 2, the secret AWS never shows) equals ours for the same
annotations, so taking it over costs no call and never drops the authentication.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.elbv2.models import elbv2_backends

from controller.aws.client_secrets import DIGEST_TAG
from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError
from controller.model.auth import secret_digest
from controller.model.stack import (
    AuthenticateOidcAction,
    AuthenticateOidcConfig,
    ClientSecretRef,
    Listener,
    Stack,
)
from tests.aws.conftest import REGION, World, import_certificate
from tests.aws.stacks import CLUSTER, STACK_2048, SVC_2048, forward, make_stack, targets

ISSUER = "https://idp.example.com"


def oidc(secret: str, *, scope: str = "openid") -> AuthenticateOidcAction:
    return AuthenticateOidcAction(
        authenticate_oidc_config=AuthenticateOidcConfig(
            issuer=ISSUER,
            authorization_endpoint=f"{ISSUER}/authorize",
            token_endpoint=f"{ISSUER}/token",
            user_info_endpoint=f"{ISSUER}/userinfo",
            client_id="my-client",
            client_secret_ref=ClientSecretRef(
                namespace="game-2048", name="oidc", digest=secret_digest(secret)
            ),
            scope=scope,
        )
    )


def with_auth(stack: Stack, auth: AuthenticateOidcAction, *, default: bool = False) -> Stack:
    """The stack with `auth` first on every rule of its HTTPS listener (as the model does)."""
    listeners: list[Listener] = []
    for original in stack.listeners:
        listener = original
        if listener.protocol == "HTTPS":
            rules = tuple(
                r.model_copy(update={"actions": (auth, *r.actions)}) for r in listener.rules
            )
            update: dict[str, Any] = {"rules": rules}
            if default:
                update["default_actions"] = (auth, forward(SVC_2048))
            listener = listener.model_copy(update=update)
        listeners.append(listener)
    return stack.model_copy(update={"listeners": tuple(listeners)})


class Secrets:
    """The kube layer's part: the current value of each Secret's clientSecret."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.reads = 0

    def __call__(self, namespace: str, name: str) -> str | None:
        assert (namespace, name) == ("game-2048", "oidc")
        self.reads += 1
        return self.value


@pytest.fixture
def cert(world: World) -> str:
    """An ACM certificate for the test host (HTTPS listeners need one that exists)."""
    return import_certificate("2048.example.com")


@pytest.fixture
def secrets(deployer: Deployer) -> Secrets:
    source = Secrets("s3cr3t")
    deployer.read_client_secrets_from(source)
    return source


def _https(world: World, lb_arn: str) -> dict[str, Any]:
    found = world.elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    return next(li for li in found if li["Port"] == 443)


def _rules(world: World, listener_arn: str) -> list[dict[str, Any]]:
    found = world.elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
    return [r for r in found if not r["IsDefault"]]


def _kept_secret(rule_arn: str) -> str | None:
    """The client secret moto holds for a rule (AWS never shows it)."""
    backend = elbv2_backends["123456789012"][REGION]
    rule = backend.describe_rules(None, [rule_arn])[0]
    kept: Any = next(a for a in rule.actions if a.type == "authenticate-oidc")
    return str(kept.client_secret) if kept.client_secret is not None else None


def _tags(world: World, arn: str) -> dict[str, str]:
    found = world.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def _params(clients: AwsClients, mark: int, operation: str) -> list[Any]:
    return [r.params for r in clients.counter.calls(mark) if r.key.operation == operation]


def test_an_oidc_rule_goes_first_on_https_and_a_second_deploy_changes_nothing(
    world: World, clients: AwsClients, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    stack = with_auth(make_stack(https=(cert,)), oidc("s3cr3t"))
    desired = targets(SVC_2048, world.nodes)
    result = deployer.deploy(stack, desired)
    listener = _https(world, result.load_balancer_arn)
    [rule] = _rules(world, listener["ListenerArn"])
    auth, fwd = sorted(rule["Actions"], key=lambda a: a["Order"])
    assert (auth["Type"], auth["Order"], fwd["Type"], fwd["Order"]) == (
        "authenticate-oidc",
        1,
        "forward",
        2,
    )
    config = auth["AuthenticateOidcConfig"]
    assert config["ClientId"] == "my-client"
    assert config["Issuer"] == ISSUER
    assert "ClientSecret" not in config  # as AWS: never answered
    assert _kept_secret(rule["RuleArn"]) == "s3cr3t"
    assert _tags(world, rule["RuleArn"])[DIGEST_TAG] == secret_digest("s3cr3t")
    # The HTTP listener's rule has no authenticate action (the model put none there).
    http = next(
        li
        for li in world.elbv2.describe_listeners(LoadBalancerArn=result.load_balancer_arn)[
            "Listeners"
        ]
        if li["Port"] == 80
    )
    [plain] = _rules(world, http["ListenerArn"])
    assert [a["Type"] for a in plain["Actions"]] == ["forward"]

    reads = secrets.reads
    mark = clients.counter.position()
    deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == []
    assert secrets.reads == reads  # the secret is not even read when nothing is sent


def _lbc_oidc_action(secret: str) -> dict[str, Any]:
    """authenticate-oidc as LBC's buildSDKAuthenticateOidcActionConfig writes it."""
    return {
        "Type": "authenticate-oidc",
        "Order": 1,
        "AuthenticateOidcConfig": {
            "Issuer": ISSUER,
            "AuthorizationEndpoint": f"{ISSUER}/authorize",
            "TokenEndpoint": f"{ISSUER}/token",
            "UserInfoEndpoint": f"{ISSUER}/userinfo",
            "ClientId": "my-client",
            "ClientSecret": secret,
            "OnUnauthenticatedRequest": "authenticate",
            "Scope": "openid",
            "SessionCookieName": "AWSELBAuthSessionCookie",
            "SessionTimeout": 604800,
        },
    }


def _replace_with_lbc_rule(world: World, listener_arn: str, tg_arn: str) -> str:
    """Our rule 1 of the listener, made again by hand the way LBC writes it (its tags, no
    digest tag of ours)."""
    [ours] = _rules(world, listener_arn)
    world.elbv2.delete_rule(RuleArn=ours["RuleArn"])
    tags = [
        {"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER},
        {"Key": "ingress.k8s.aws/stack", "Value": STACK_2048},
        {"Key": "ingress.k8s.aws/resource", "Value": "443:1"},
    ]
    made = world.elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=1,
        Conditions=[
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["2048.example.com"]}},
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}},
        ],
        Actions=[
            _lbc_oidc_action("lbc-secret"),
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg_arn}]},
            },
        ],
        Tags=tags,
    )
    return str(made["Rules"][0]["RuleArn"])


def test_rules_lbc_made_with_authenticate_oidc_are_adopted_without_a_call(
    world: World, clients: AwsClients, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    plain = make_stack(https=(cert,))
    result = deployer.deploy(plain, desired)
    listener = _https(world, result.load_balancer_arn)
    lbc_rule = _replace_with_lbc_rule(
        world, listener["ListenerArn"], result.target_group_arns[SVC_2048.tg_id]
    )

    mark = clients.counter.position()
    deployer.deploy(with_auth(plain, oidc("s3cr3t")), desired)
    assert clients.counter.mutating(mark) == []
    [rule] = _rules(world, listener["ListenerArn"])
    assert rule["RuleArn"] == lbc_rule
    assert [a["Type"] for a in sorted(rule["Actions"], key=lambda a: a["Order"])] == [
        "authenticate-oidc",
        "forward",
    ]
    assert _kept_secret(lbc_rule) == "lbc-secret"  # untouched: nothing said it differs

    # Auth goes only when the desired rule says so (auth-type none): a change made on purpose.
    mark = clients.counter.position()
    deployer.deploy(plain, desired)
    assert clients.counter.mutating(mark) == ["ModifyRule"]
    [rule] = _rules(world, listener["ListenerArn"])
    assert [a["Type"] for a in rule["Actions"]] == ["forward"]


def test_a_changed_rule_of_lbc_gets_the_current_secret(
    world: World, clients: AwsClients, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    """Without our digest tag the live secret is unknown: a modify sends the value, and
    tags the rule with its digest from then on."""
    desired = targets(SVC_2048, world.nodes)
    plain = make_stack(https=(cert,))
    result = deployer.deploy(plain, desired)
    listener = _https(world, result.load_balancer_arn)
    lbc_rule = _replace_with_lbc_rule(
        world, listener["ListenerArn"], result.target_group_arns[SVC_2048.tg_id]
    )
    mark = clients.counter.position()
    deployer.deploy(with_auth(plain, oidc("s3cr3t", scope="openid email")), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule", "AddTags"]
    [sent] = _params(clients, mark, "ModifyRule")
    assert sent["Actions"][0]["AuthenticateOidcConfig"]["ClientSecret"] == "s3cr3t"
    assert _kept_secret(lbc_rule) == "s3cr3t"
    assert _tags(world, lbc_rule)[DIGEST_TAG] == secret_digest("s3cr3t")


def test_a_rotated_client_secret_is_sent_on_the_next_deploy(
    world: World, clients: AwsClients, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    base = make_stack(https=(cert,))
    result = deployer.deploy(with_auth(base, oidc("s3cr3t")), desired)
    [rule] = _rules(world, _https(world, result.load_balancer_arn)["ListenerArn"])

    secrets.value = "rotated"
    mark = clients.counter.position()
    deployer.deploy(with_auth(base, oidc("rotated")), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule", "AddTags"]
    [sent] = _params(clients, mark, "ModifyRule")
    assert sent["Actions"][0]["AuthenticateOidcConfig"]["ClientSecret"] == "rotated"
    assert _kept_secret(rule["RuleArn"]) == "rotated"
    assert _tags(world, rule["RuleArn"])[DIGEST_TAG] == secret_digest("rotated")

    mark = clients.counter.position()
    deployer.deploy(with_auth(base, oidc("rotated")), desired)
    assert clients.counter.mutating(mark) == []


def test_a_modify_with_the_same_secret_keeps_the_existing_one(
    world: World, clients: AwsClients, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    base = make_stack(https=(cert,))
    result = deployer.deploy(with_auth(base, oidc("s3cr3t")), desired)
    [rule] = _rules(world, _https(world, result.load_balancer_arn)["ListenerArn"])
    secrets.value = None  # not needed: AWS is told to keep what it has
    mark = clients.counter.position()
    deployer.deploy(with_auth(base, oidc("s3cr3t", scope="openid email")), desired)
    assert clients.counter.mutating(mark) == ["ModifyRule"]
    [sent] = _params(clients, mark, "ModifyRule")
    config = sent["Actions"][0]["AuthenticateOidcConfig"]
    assert config["UseExistingClientSecret"] is True
    assert "ClientSecret" not in config
    assert _kept_secret(rule["RuleArn"]) == "s3cr3t"


def test_a_default_action_with_oidc_on_the_https_listener(
    world: World, clients: AwsClients, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    desired = targets(SVC_2048, world.nodes)
    stack = with_auth(make_stack(https=(cert,)), oidc("s3cr3t"), default=True)
    result = deployer.deploy(stack, desired)
    listener = _https(world, result.load_balancer_arn)
    assert [a["Type"] for a in sorted(listener["DefaultActions"], key=lambda a: a["Order"])] == [
        "authenticate-oidc",
        "forward",
    ]
    assert _tags(world, listener["ListenerArn"])[DIGEST_TAG] == secret_digest("s3cr3t")
    mark = clients.counter.position()
    deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == []

    secrets.value = "rotated"
    stack = with_auth(make_stack(https=(cert,)), oidc("rotated"), default=True)
    mark = clients.counter.position()
    deployer.deploy(stack, desired)
    assert clients.counter.mutating(mark) == ["ModifyListener", "AddTags", "ModifyRule", "AddTags"]
    [sent] = _params(clients, mark, "ModifyListener")
    assert sent["DefaultActions"][0]["AuthenticateOidcConfig"]["ClientSecret"] == "rotated"


def test_a_secret_gone_before_it_is_sent_fails_the_deploy_retryably(
    world: World, deployer: Deployer, secrets: Secrets, cert: str
) -> None:
    secrets.value = None
    with pytest.raises(AwsError) as raised:
        deployer.deploy(with_auth(make_stack(https=(cert,)), oidc("s3cr3t")), {})
    assert raised.value.code == "ClientSecretUnavailable"
    assert raised.value.retryable
    assert "game-2048/oidc" in str(raised.value)
