"""Class selection (`group_of`, `is_our_class`), group ids, finalizers and `build_group`."""

from __future__ import annotations

from typing import Any

from controller.model import BuildError, ClusterState, GroupRef, group_of

from .factories import DEFAULTS, ann, group, ingress, ingress_class, path, rule, service, state

ALB = ingress_class()


def test_lone_ingress_is_its_own_implicit_group() -> None:
    ref = group_of(ingress("web", "shop"), [ALB], DEFAULTS)
    assert ref == GroupRef(id="shop/web", explicit=False, order=0)
    assert ref.finalizer == "ingress.k8s.aws/resources"


def test_group_name_and_order() -> None:
    ing = ingress(
        annotations={
            **ann(),
            "alb.ingress.kubernetes.io/group.name": "team.a-1",
            "alb.ingress.kubernetes.io/group.order": "-7",
        }
    )
    ref = group_of(ing, [ALB], DEFAULTS)
    assert ref == GroupRef(id="team.a-1", explicit=True, order=-7)
    assert ref.finalizer == "group.ingress.k8s.aws/team.a-1"


def test_bad_group_name_is_an_error_naming_the_ingress() -> None:
    ing = ingress(annotations={"alb.ingress.kubernetes.io/group.name": "Bad_Name"})
    ref = group_of(ing, [ALB], DEFAULTS)
    assert isinstance(ref, BuildError)
    assert ref.ingress == "default/app"
    assert ref.field == "metadata.annotations[alb.ingress.kubernetes.io/group.name]"


def test_other_controllers_classes_are_not_ours() -> None:
    nginx = ingress_class("nginx", "k8s.io/ingress-nginx")
    assert group_of(ingress(class_name="nginx"), [ALB, nginx], DEFAULTS) is None


def test_missing_ingress_class_is_not_ours() -> None:
    assert group_of(ingress(class_name="alb"), [], DEFAULTS) is None


def test_legacy_annotation_wins_over_class_name() -> None:
    legacy_alb = ingress(class_name="nginx")
    legacy_alb["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "alb"}
    legacy_other = ingress(class_name="alb")
    legacy_other["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert isinstance(group_of(legacy_alb, [], DEFAULTS), GroupRef)
    assert group_of(legacy_other, [ALB], DEFAULTS) is None


def test_default_class_selects_ingresses_without_a_class() -> None:
    default_alb = ingress_class("anything", default=True)
    default_nginx = ingress_class("nginx", "k8s.io/ingress-nginx", default=True)
    assert isinstance(group_of(ingress(class_name=None), [default_alb], DEFAULTS), GroupRef)
    assert group_of(ingress(class_name=None), [default_nginx], DEFAULTS) is None
    assert group_of(ingress(class_name=None), [ALB], DEFAULTS) is None


def test_configured_class_name_is_used_for_the_legacy_annotation() -> None:
    custom = DEFAULTS.model_copy(update={"ingress_class": "alb-internal"})
    ing = ingress(class_name=None)
    ing["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "alb-internal"}
    assert isinstance(group_of(ing, [], custom), GroupRef)
    assert group_of(ing, [], DEFAULTS) is None


def test_deleted_ingresses_are_classified_but_not_members() -> None:
    gone = ingress("gone", deleted=True)
    assert isinstance(group_of(gone, [ALB], DEFAULTS), GroupRef)
    result = group("default/gone", state(gone, service()), DEFAULTS)
    assert result.stack is None
    assert result.members == ()
    assert result.errors == ()


def _member(name: str, order: int | None = None, **extra: str) -> dict[str, Any]:
    annotations = {"alb.ingress.kubernetes.io/group.name": "g", **ann(**extra)}
    if order is not None:
        annotations["alb.ingress.kubernetes.io/group.order"] = str(order)
    return ingress(name, annotations=annotations, rules=[rule(f"{name}.example.com", path("/"))])


def test_build_group_orders_members_and_excludes_the_invalid_one() -> None:
    objects = [_member("b"), _member("a", 5), _member("c", -1), _member("bad", target_type="x")]
    result = group("g", state(*objects, service()), DEFAULTS)
    assert result.members == ("default/c", "default/b", "default/bad", "default/a")
    assert result.stack is not None
    assert result.stack.ingresses == ("default/c", "default/b", "default/a")
    assert [e.ingress for e in result.errors] == ["default/bad"]
    hosts = [r.conditions[0].values for r in result.stack.listeners[0].rules]
    assert hosts == [("c.example.com",), ("b.example.com",), ("a.example.com",)]


def test_build_group_without_valid_members_has_no_stack() -> None:
    result = group("g", state(_member("bad", scheme="nope"), service()), DEFAULTS)
    assert result.stack is None
    assert result.members == ("default/bad",)
    assert len(result.errors) == 1


def test_build_group_of_unknown_group_is_empty() -> None:
    result = group("nobody", ClusterState(), DEFAULTS)
    assert (result.stack, result.errors, result.members) == (None, (), ())


def test_exclusive_setting_conflict_names_both_and_keeps_the_first() -> None:
    objects = [_member("a", scheme="internet-facing"), _member("b", scheme="internal")]
    result = group("g", state(*objects, service()), DEFAULTS)
    assert result.stack is not None
    assert result.stack.load_balancer.scheme == "internet-facing"
    [error] = result.errors
    assert error.ingress == "default/b"
    assert "default/a" in error.message


def test_agreeing_exclusive_settings_do_not_conflict() -> None:
    objects = [
        _member("a", subnets="subnet-1,subnet-2"),
        _member("b", subnets="subnet-2, subnet-1"),
        _member("c"),
    ]
    result = group("g", state(*objects, service()), DEFAULTS)
    assert result.errors == ()
    assert result.stack is not None
    assert result.stack.load_balancer.subnets == ("subnet-1", "subnet-2")


def test_dropping_a_member_in_a_group_check_rebuilds_without_its_settings() -> None:
    # `a` sets the scheme and a bad ssl-redirect; once dropped, `b`'s scheme applies.
    objects = [
        _member("a", -1, scheme="internet-facing", ssl_redirect="443"),
        _member("b", scheme="internal"),
    ]
    result = group("g", state(*objects, service()), DEFAULTS)
    assert result.stack is not None
    assert result.stack.ingresses == ("default/b",)
    assert result.stack.load_balancer.scheme == "internal"
    assert [e.ingress for e in result.errors] == ["default/a"]
    assert "ssl-redirect" in result.errors[0].field


def test_certificates_merge_across_members_on_the_same_port() -> None:
    arn = "arn:aws:acm:us-east-1:1:certificate/"
    objects = [
        _member("a", certificate_arn=f"{arn}one"),
        _member("b", certificate_arn=f"{arn}two,{arn}one"),
    ]
    result = group("g", state(*objects, service()), DEFAULTS)
    assert result.stack is not None
    [listener] = result.stack.listeners
    assert (listener.protocol, listener.port) == ("HTTPS", 443)
    assert listener.certificates == (f"{arn}one", f"{arn}two")


def test_a_malformed_label_does_not_hide_the_annotations() -> None:
    ing = ingress(annotations=ann(scheme="internet-facing"))
    ing["metadata"]["labels"] = {"version": 1}
    result = group("default/app", state(ing, service()), DEFAULTS)
    assert result.stack is not None
    assert result.stack.load_balancer.scheme == "internet-facing"
