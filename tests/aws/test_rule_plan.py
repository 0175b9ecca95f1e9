"""The rule plan in isolation: pairing by content, one priority call, create before delete."""

from __future__ import annotations

from controller.aws.rules import BOTTOM_PRIORITY, DesiredRule, LiveRule, plan_rules
from controller.aws.shapes import canonical_actions
from controller.model.stack import ClientSecretRef


def desired(priority: int, path: str) -> DesiredRule:
    return DesiredRule(
        priority=priority,
        conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
        actions=[
            {"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "200"}}
        ],
        tags={},
    )


def live(priority: int, path: str) -> LiveRule:
    want = desired(priority, path)
    return LiveRule(arn=f"arn:{path}", priority=priority, key=want.key)


def test_unchanged_rules_make_an_empty_plan() -> None:
    assert plan_rules([desired(1, "/a"), desired(2, "/b")], [live(1, "/a"), live(2, "/b")]).empty


def test_a_swap_is_one_priorities_change() -> None:
    plan = plan_rules([desired(1, "/b"), desired(2, "/a")], [live(1, "/a"), live(2, "/b")])
    assert plan.priorities == {"arn:/a": 2, "arn:/b": 1}
    assert not (plan.modify or plan.create or plan.delete)


def test_a_rule_on_its_way_out_is_pushed_to_the_bottom_when_in_the_way() -> None:
    plan = plan_rules(
        [desired(1, "/a"), desired(2, "/c")], [live(1, "/a"), live(2, "/b"), live(3, "/c")]
    )
    assert plan.priorities == {"arn:/c": 2, "arn:/b": BOTTOM_PRIORITY}
    assert plan.delete == ["arn:/b"]


def test_changed_content_is_modified_in_place_at_the_same_priority() -> None:
    plan = plan_rules([desired(1, "/a"), desired(2, "/x")], [live(1, "/a"), live(2, "/b")])
    assert [(arn, rule.priority) for arn, rule in plan.modify] == [("arn:/b", 2)]
    assert not (plan.priorities or plan.create or plan.delete)


def test_creates_and_deletes_never_both_happen() -> None:
    plan = plan_rules([desired(1, "/x"), desired(2, "/y")], [live(5, "/a")])
    assert len(plan.modify) == 1 and len(plan.create) == 1 and plan.delete == []
    plan = plan_rules([desired(1, "/x")], [live(5, "/a"), live(6, "/b")])
    assert len(plan.modify) == 1 and len(plan.delete) == 1 and plan.create == []


# --- authenticate actions: compared field by field, the client secret never --------------

_OIDC_LIVE = {
    "Type": "authenticate-oidc",
    "Order": 1,
    "AuthenticateOidcConfig": {
        "Issuer": "https://idp",
        "AuthorizationEndpoint": "https://idp/a",
        "TokenEndpoint": "https://idp/t",
        "UserInfoEndpoint": "https://idp/u",
        "ClientId": "client",
        # AWS fills in what was not given; LBC gives all of these anyway.
        "SessionTimeout": 604800,
        "AuthenticationRequestExtraParams": {"b": "2", "a": "1"},
    },
}
_FORWARD = {
    "Type": "forward",
    "Order": 2,
    "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "tg"}]},
}


def _oidc_desired(**changes: object) -> dict[str, object]:
    config = {
        "Issuer": "https://idp",
        "AuthorizationEndpoint": "https://idp/a",
        "TokenEndpoint": "https://idp/t",
        "UserInfoEndpoint": "https://idp/u",
        "ClientId": "client",
        "OnUnauthenticatedRequest": "authenticate",
        "Scope": "openid",
        "SessionCookieName": "AWSELBAuthSessionCookie",
        "SessionTimeout": "604800",  # the query protocol's string
        "AuthenticationRequestExtraParams": {"a": "1", "b": "2"},
        "ClientSecret": "never-compared",
        **changes,
    }
    return {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": config}


def test_authenticate_oidc_equal_with_defaults_filled_in_and_no_secret_shown() -> None:
    live_key = canonical_actions([_FORWARD, _OIDC_LIVE])  # order is by Order, not by list
    assert canonical_actions([_oidc_desired(), _FORWARD]) == live_key
    assert canonical_actions([_oidc_desired(UseExistingClientSecret=True), _FORWARD]) == live_key


def test_authenticate_oidc_differs_by_every_setting_and_by_its_absence() -> None:
    live_key = canonical_actions([_OIDC_LIVE, _FORWARD])
    for changed in (
        {"ClientId": "other"},
        {"Issuer": "https://other"},
        {"TokenEndpoint": "https://idp/t2"},
        {"Scope": "openid email"},
        {"OnUnauthenticatedRequest": "deny"},
        {"SessionCookieName": "c"},
        {"SessionTimeout": 60},
        {"AuthenticationRequestExtraParams": {"a": "1"}},
    ):
        assert canonical_actions([_oidc_desired(**changed), _FORWARD]) != live_key, changed
    # A rule without the authenticate action is a different rule: never "equal" to one with.
    assert canonical_actions([{**_FORWARD, "Order": 1}]) != live_key


def test_a_rotated_secret_modifies_an_otherwise_equal_rule() -> None:
    want = DesiredRule(
        priority=1,
        conditions=[],
        actions=[_oidc_desired(), _FORWARD],
        tags={},
        secret=ClientSecretRef(namespace="ns", name="s", digest="sha256:new"),
    )
    same = LiveRule(arn="arn:r", priority=1, key=want.key, secret_digest="sha256:new")
    old = LiveRule(arn="arn:r", priority=1, key=want.key, secret_digest="sha256:old")
    unknown = LiveRule(arn="arn:r", priority=1, key=want.key, secret_digest=None)  # LBC's
    assert plan_rules([want], [same]).empty
    assert plan_rules([want], [unknown]).empty
    assert [arn for arn, _ in plan_rules([want], [old]).modify] == ["arn:r"]
