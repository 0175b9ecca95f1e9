"""Backend rules into node security groups stay under AWS's rules-per-group limit.

A NodePort Service per Ingress gives a port per target group; one rule per port hit
RulesPerSecurityGroupLimitExceeded at 60 in the benchmark (100 Ingresses). Past
`MAX_BACKEND_PORT_RULES` the NodePort part becomes one range rule, and ports a range already
covers are not added again.
"""

from __future__ import annotations

from controller.aws.security_groups import (
    MAX_BACKEND_PORT_RULES,
    NODE_PORTS,
    SHARED_RULE_DESCRIPTION,
    _missing_backend_rules,
)

BACKEND = "sg-backend"


def _rule(lo: int, hi: int, source: str = BACKEND) -> tuple[str, int, int, str, str]:
    return ("tcp", lo, hi, "group", source)


def test_few_ports_get_a_rule_each() -> None:
    missing = _missing_backend_rules({}, BACKEND, [30001, 30002, 8080])
    assert set(missing) == {_rule(8080, 8080), _rule(30001, 30001), _rule(30002, 30002)}
    assert set(missing.values()) == {SHARED_RULE_DESCRIPTION}


def test_ports_already_allowed_are_not_added() -> None:
    have = {_rule(30001, 30001): SHARED_RULE_DESCRIPTION}
    assert set(_missing_backend_rules(have, BACKEND, [30001, 30005])) == {_rule(30005, 30005)}


def test_a_range_rule_covers_its_ports() -> None:
    have = {_rule(*NODE_PORTS): SHARED_RULE_DESCRIPTION}
    assert _missing_backend_rules(have, BACKEND, [30001, 31999]) == {}


def test_other_sources_do_not_count() -> None:
    have = {_rule(*NODE_PORTS, source="sg-other"): None}
    assert set(_missing_backend_rules(have, BACKEND, [30001])) == {_rule(30001, 30001)}


def test_past_the_limit_node_ports_become_one_range() -> None:
    have = {_rule(30000 + i, 30000 + i): None for i in range(MAX_BACKEND_PORT_RULES)}
    missing = _missing_backend_rules(have, BACKEND, [31000, 31001, 8080])
    assert set(missing) == {_rule(8080, 8080), _rule(*NODE_PORTS)}
