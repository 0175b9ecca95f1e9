"""Listener mTLS (`mutual-authentication`) on AWS: a trust store given by name is resolved to
its ARN before anything changes (a missing one fails the deploy with nothing made), the
listener gets the mode, changes only where it differs, and a listener the annotation does not
name keeps what AWS has (mTLS set by hand is not removed)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer, DeployResult
from controller.aws.errors import AwsError
from controller.model.stack import MutualAuthentication, Stack
from tests.aws.conftest import SESSION, World, import_certificate
from tests.aws.stacks import HOST, SVC_2048, make_stack, targets


def _elbv2() -> Any:
    return SESSION.client("elbv2")


def trust_store(name: str) -> str:
    made = _elbv2().create_trust_store(
        Name=name, CaCertificatesBundleS3Bucket="ca", CaCertificatesBundleS3Key="ca.pem"
    )
    return str(made["TrustStores"][0]["TrustStoreArn"])


def https_stack(mtls: MutualAuthentication | None) -> Stack:
    stack = make_stack(https=(import_certificate(HOST),))
    listeners = tuple(
        li.model_copy(update={"mutual_authentication": mtls}) if li.protocol == "HTTPS" else li
        for li in stack.listeners
    )
    return stack.model_copy(update={"listeners": listeners})


def deploy(deployer: Deployer, stack: Stack, world: World) -> DeployResult:
    return deployer.deploy(stack, targets(SVC_2048, world.nodes[:1]))


def https_mtls(lb_arn: str) -> dict[str, Any] | None:
    (listener,) = [
        li
        for li in _elbv2().describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
        if li["Protocol"] == "HTTPS"
    ]
    found: dict[str, Any] | None = listener.get("MutualAuthentication")
    return found


def test_verify_by_trust_store_name_then_nothing_to_do(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    arn = trust_store("clients")
    stack = https_stack(MutualAuthentication(mode="verify", trust_store="clients"))
    lb = deploy(deployer, stack, world).load_balancer_arn
    mtls = https_mtls(lb)
    assert mtls is not None
    assert (mtls["Mode"], mtls["TrustStoreArn"], mtls["IgnoreClientCertificateExpiry"]) == (
        "verify", arn, False
    )  # fmt: skip
    mark = clients.counter.position()
    deploy(deployer, stack, world)
    assert clients.counter.mutating(mark) == []


def test_a_mode_change_is_one_modify_listener(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    arn = trust_store("clients")
    passthrough = https_stack(MutualAuthentication(mode="passthrough"))
    lb = deploy(deployer, passthrough, world)
    assert https_mtls(lb.load_balancer_arn) == {"Mode": "passthrough"}
    mark = clients.counter.position()
    wanted = MutualAuthentication(
        mode="verify", trust_store=arn, ignore_client_certificate_expiry=True
    )
    listeners = tuple(
        li.model_copy(update={"mutual_authentication": wanted}) if li.protocol == "HTTPS" else li
        for li in passthrough.listeners
    )
    deploy(deployer, passthrough.model_copy(update={"listeners": listeners}), world)
    modifies = [
        dict(r.params) for r in clients.counter.calls(mark) if r.key.operation == "ModifyListener"
    ]
    assert [m["MutualAuthentication"] for m in modifies] == [
        {"Mode": "verify", "TrustStoreArn": arn, "IgnoreClientCertificateExpiry": True}
    ]
    mtls = https_mtls(lb.load_balancer_arn)
    assert mtls is not None and mtls["IgnoreClientCertificateExpiry"] is True


def test_a_listener_not_named_keeps_the_mtls_aws_has(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    arn = trust_store("by-hand")
    plain = https_stack(None)
    lb = deploy(deployer, plain, world).load_balancer_arn
    (listener,) = [
        li for li in _elbv2().describe_listeners(LoadBalancerArn=lb)["Listeners"]
        if li["Protocol"] == "HTTPS"
    ]  # fmt: skip
    _elbv2().modify_listener(
        ListenerArn=listener["ListenerArn"],
        MutualAuthentication={"Mode": "verify", "TrustStoreArn": arn},
        Certificates=listener["Certificates"],  # moto drops them when not given again
    )
    mark = clients.counter.position()
    deploy(deployer, plain, world)
    assert clients.counter.mutating(mark) == []
    mtls = https_mtls(lb)
    assert mtls is not None and mtls["Mode"] == "verify"


def test_a_missing_trust_store_fails_before_anything_is_made(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    stack = https_stack(MutualAuthentication(mode="verify", trust_store="no-such-store"))
    with pytest.raises(AwsError) as raised:
        deploy(deployer, stack, world)
    assert "no trust store named no-such-store" in str(raised.value)
    assert not raised.value.retryable
    assert clients.counter.mutating(0) == []
