"""The 2048 example, end to end: apply it, see the ALB, its targets and DNS; delete it.

The same manifests a newcomer applies (`examples/2048/`), so the quick start is tested.
"""

from __future__ import annotations

from controller.manifests import load_manifests
from tests.e2e.harness import REPO, Scenario, wait_until

NAMESPACE = "game-2048"
NAME = "ingress-2048"
HOST = "2048.example.com"


def test_the_2048_example_gets_an_alb_targets_and_dns(scenario: Scenario, running: object) -> None:
    scenario.create(load_manifests([REPO / "examples" / "2048"]))
    hostname = scenario.hostname(NAMESPACE, NAME)

    view = scenario.lb_view(hostname)
    assert view.lb["Scheme"] == "internet-facing"
    assert view.lb["Type"] == "application"
    assert [(li["Port"], li["Protocol"]) for li in view.listeners] == [(80, "HTTP")]
    assert view.conditions() == [{"host-header": [HOST], "path-pattern": ["/*"]}]
    [tg] = view.target_groups
    assert tg["TargetType"] == "instance"
    node_port = scenario.core.read_namespaced_service("service-2048", NAMESPACE).spec.ports[0].node_port
    instances = {
        spec.instance_id for spec in (scenario.target.sandbox.nodes.values() if scenario.target.sandbox else ())
    }
    targets = wait_until(
        lambda: scenario.lb_view(hostname).target_ids()[tg["TargetGroupName"]],
        "targets to be registered",
    )
    assert {port for _, port in targets} == {node_port}
    assert tg["Port"] == node_port
    if instances:
        assert {i for i, _ in targets} == instances
    assert all(
        t["TargetHealth"]["State"] in ("healthy", "initial")
        for t in view.targets[tg["TargetGroupName"]]
    )

    records = wait_until(lambda: scenario.records(HOST).get("public:A") and scenario.records(HOST), "DNS records")
    alias = records["public:A"]["AliasTarget"]
    assert alias["DNSName"].rstrip(".").lower() == hostname.lower()
    txt = records["public:TXT"]["ResourceRecords"][0]["Value"]
    assert f"cluster={scenario.target.cluster_name}" in txt
    assert "ingress/game-2048/ingress-2048" in txt
    assert "private:A" not in records  # an internet-facing ALB's records go to the public zone

    scenario.finish()
    assert scenario.records(HOST) == {}
