"""OIDC Secrets in the kube layer: kept stripped to their client keys, their changes
reconcile the groups naming them, and one deleted while named keeps the deployed
authentication (with a FailedBuildModel Warning) instead of dropping it."""

from __future__ import annotations

import base64

from controller.config import ModelDefaults, Settings
from controller.kube.operator import Runtime
from controller.kube.reconciler import GroupReconciler
from controller.kube.scheduler import Mode
from controller.model.auth import secret_digest
from controller.model.stack import AuthenticateOidcAction

from .fakes import INGRESS_CLASS, FakeCluster, FakeDeployer, cluster_cache, ingress, service

DEFAULTS = ModelDefaults(cluster_name="test")
PREFIX = "alb.ingress.kubernetes.io/"
OIDC = (
    '{"issuer": "https://idp.example.com", "authorizationEndpoint": "https://idp.example.com/a",'
    ' "tokenEndpoint": "https://idp.example.com/t", "userInfoEndpoint": '
    '"https://idp.example.com/u", "secretName": "oidc"}'
)
AUTH = {
    PREFIX + "certificate-arn": "arn:aws:acm:us-east-1:1:certificate/x",
    PREFIX + "auth-type": "oidc",
    PREFIX + "auth-idp-oidc": OIDC,
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(name: str = "oidc", value: str = "s3cr3t", **extra: str) -> dict[str, object]:
    data = {"clientID": _b64("client"), "clientSecret": _b64(value)}
    data |= {k: _b64(v) for k, v in extra.items()}
    return {"kind": "Secret", "metadata": {"name": name, "namespace": "shop"}, "data": data}


def _auth_actions(deployer: FakeDeployer) -> list[AuthenticateOidcAction]:
    stack = deployer.deployed[-1]
    return [
        a
        for listener in stack.listeners
        for rule in listener.rules
        for a in rule.actions
        if isinstance(a, AuthenticateOidcAction)
    ]


def test_the_cache_keeps_only_the_client_keys_of_every_secret() -> None:
    cache = cluster_cache(DEFAULTS)
    cache.apply_event("Secret", None, secret(**{"tls.key": "PRIVATE"}))
    registry = {"metadata": {"name": "registry", "namespace": "shop"}, "data": {".d": _b64("{}")}}
    cache.apply_event("Secret", None, registry)
    kept = cache.get("Secret", "shop/oidc") or {}
    assert set(kept["data"]) == {"clientID", "clientSecret"}
    assert cache.get("Secret", "shop/registry") is not None  # known (the initial sync waits)
    assert (cache.get("Secret", "shop/registry") or {})["data"] == {}
    assert "PRIVATE" not in repr(cache.state())
    assert cache.client_secret("shop", "oidc") == "s3cr3t"


async def test_a_secret_change_reconciles_only_the_groups_naming_it() -> None:
    runtime = Runtime.create(Settings(cluster_name="test"), writer=None, deployer=FakeDeployer())  # type: ignore[arg-type]
    runtime.observe("IngressClass", None, INGRESS_CLASS)
    runtime.observe("Ingress", None, ingress("a", annotations=AUTH))
    runtime.observe("Ingress", None, ingress("b", host="b.example.com"))
    runtime.observe("Secret", None, secret())
    runtime.scheduler._pending.clear()
    runtime.observe("Secret", "MODIFIED", secret(value="rotated"))
    assert dict(runtime.scheduler._pending) == {"shop/a": Mode.FULL}
    runtime.scheduler._pending.clear()
    runtime.observe("Secret", "MODIFIED", secret(value="rotated", other="x"))  # not a client key
    assert dict(runtime.scheduler._pending) == {}
    runtime.observe("Secret", "ADDED", secret("unrelated"))
    assert dict(runtime.scheduler._pending) == {}


def test_a_rotated_secret_changes_the_stack_and_a_deleted_one_keeps_the_rule() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Service", None, service())
    cache.apply_event("Secret", None, secret())
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=AUTH))
    reconciler.reconcile("shop/a", Mode.FULL)
    [first] = _auth_actions(deployer)
    assert first.authenticate_oidc_config.client_secret_ref.digest == secret_digest("s3cr3t")
    assert "s3cr3t" not in deployer.deployed[-1].model_dump_json()

    cache.apply_event("Secret", "MODIFIED", secret(value="rotated"))
    reconciler.reconcile("shop/a", Mode.FULL)
    [rotated] = _auth_actions(deployer)
    assert rotated.authenticate_oidc_config.client_secret_ref.digest == secret_digest("rotated")
    deployed = len(deployer.deployed)

    cache.apply_event("Secret", "DELETED", secret(value="rotated"))
    reconciler.reconcile("shop/a", Mode.FULL)
    # The same stack: nothing to deploy, the authentication stays as it is in AWS ...
    assert len(deployer.deployed) == deployed
    reconciler.reconcile("shop/a", Mode.DRIFT)  # ... and a full deploy keeps it too
    assert len(deployer.deployed) == deployed + 1
    assert _auth_actions(deployer) == [rotated]
    warnings = [(r, m) for _, kind, r, m in cluster.events if kind == "Warning"]
    assert any(
        r == "FailedBuildModel" and "auth-idp-oidc" in m and "'oidc' was deleted" in m
        for r, m in warnings
    ), warnings
    assert cache.client_secret("shop", "oidc") == "rotated"  # still there if AWS needs it

    cache.apply_event("Secret", "ADDED", secret(value="new"))
    reconciler.reconcile("shop/a", Mode.FULL)
    [back] = _auth_actions(deployer)
    assert back.authenticate_oidc_config.client_secret_ref.digest == secret_digest("new")


def test_a_secret_never_seen_is_an_error_on_the_ingress() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    cache.apply_event("Service", None, service())
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=AUTH))
    GroupReconciler(cache, cluster, deployer, DEFAULTS).reconcile("shop/a", Mode.FULL)
    errors = [m for _, kind, r, m in cluster.events if r == "FailedBuildModel"]
    assert errors and "auth-idp-oidc" in errors[0] and "not found" in errors[0]
    assert deployer.deployed == []
