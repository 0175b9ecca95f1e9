"""Ownership record names and values: format, parsing, limits."""

from __future__ import annotations

import pytest

from controller.aws.dns.registry import (
    Owner,
    check_label_value,
    name_problem,
    parse_txt_name,
    parse_txt_values,
    txt_name,
    txt_value,
)


@pytest.mark.parametrize(
    ("host", "rtype", "name"),
    [
        ("app.example.com", "A", "_alb-a.app.example.com"),
        ("app.example.com", "AAAA", "_alb-aaaa.app.example.com"),
        ("*.example.com", "A", "_alb-a._wildcard.example.com"),
        ("example.com", "A", "_alb-a.example.com"),
    ],
)
def test_ownership_names_round_trip(host: str, rtype: str, name: str) -> None:
    assert txt_name(host, rtype) == name
    assert parse_txt_name(name) == (host, rtype)


@pytest.mark.parametrize(
    "name", ["a-app.example.com", "_alb-cname.app.example.com", "_alb-a", "app.example.com"]
)
def test_other_names_are_not_ownership_names(name: str) -> None:
    assert parse_txt_name(name) is None


def test_the_value_is_quoted_and_names_cluster_stack_and_ingress() -> None:
    value = txt_value(Owner("prod", "game-2048/ingress-2048", "ingress/game-2048/ingress-2048"))

    assert value == (
        '"heritage=alb-ingress-controller,alb-ingress-controller/cluster=prod,'
        "alb-ingress-controller/stack=game-2048/ingress-2048,"
        'alb-ingress-controller/resource=ingress/game-2048/ingress-2048"'
    )
    assert parse_txt_values([value]) == Owner(
        "prod", "game-2048/ingress-2048", "ingress/game-2048/ingress-2048"
    )


def test_a_long_value_is_split_into_255_character_strings_and_read_back() -> None:
    owner = Owner("c" * 100, "s" * 200, "ingress/ns/" + "n" * 60)

    value = txt_value(owner)

    strings = value.split('" "')
    assert len(strings) == 2
    assert all(len(s.strip('"')) <= 255 for s in strings)
    assert parse_txt_values([value]) == owner


@pytest.mark.parametrize(
    "values",
    [
        ['"heritage=external-dns,external-dns/owner=default"'],
        ['"v=spf1 -all"'],
        ['"heritage=alb-ingress-controller,alb-ingress-controller/cluster=prod"'],  # no stack
        [  # two owners in one record set: ambiguous, so not ours
            txt_value(Owner("prod", "a")),
            txt_value(Owner("prod", "b")),
        ],
    ],
)
def test_values_that_are_not_one_clear_owner(values: list[str]) -> None:
    assert parse_txt_values(values) is None


def test_an_owner_owns_only_the_same_cluster_and_stack() -> None:
    me = Owner("prod", "web", "ingress/a/b")
    assert me.owns(Owner("prod", "web", "ingress/other/x"))
    assert not me.owns(Owner("staging", "web"))
    assert not me.owns(Owner("prod", "api"))
    assert not me.owns(None)


@pytest.mark.parametrize("bad", ["", "a,b", "a=b", 'a"b', "a b", "a\\b"])
def test_labels_that_would_break_the_value_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cluster name"):
        check_label_value(bad, "cluster name")


def test_names_route53_would_refuse() -> None:
    assert name_problem("_alb-aaaa." + "a" * 63 + ".example.com") is None
    assert "longer than 63" in str(name_problem("x" * 64 + ".example.com"))
    assert "longer than 253" in str(name_problem(".".join(["a" * 60] * 5)))
