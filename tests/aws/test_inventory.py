"""The start-up sweep: every stack of the cluster with its load balancer and target group
ARNs, from the tagging API alone (issue: migration safety, point 11)."""

from __future__ import annotations

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from tests.aws.conftest import World
from tests.aws.stacks import SVC_2048, Svc, make_stack, targets


def test_the_sweep_finds_each_stack_by_its_tags_and_nothing_foreign(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    first = deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    other_svc = Svc(namespace="other", ingress="web", name="web")
    second = deployer.deploy(
        make_stack([("/", other_svc)], stack_id="other/web", ingresses=("other/web",)),
        targets(other_svc, world.nodes),
    )
    mark = clients.counter.position()

    found = deployer.inventory()

    assert found == {
        "game-2048/ingress-2048": frozenset(
            {first.load_balancer_arn, *first.target_group_arns.values()}
        ),
        "other/web": frozenset({second.load_balancer_arn, *second.target_group_arns.values()}),
    }
    assert world.foreign_lb not in found["game-2048/ingress-2048"]
    operations = {call.key.operation for call in clients.counter.calls(mark)}
    assert operations == {"GetResources"}, operations


def test_the_drift_sweep_fingerprints_every_stack_in_three_reads(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    """One tagging page, one page of load balancers and one of target groups for the whole
    cluster; a stack's digest moves when someone edits its target group's health check or
    its load balancer's tags, and only that stack's."""
    first = deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    other_svc = Svc(namespace="other", ingress="web", name="web")
    deployer.deploy(
        make_stack([("/", other_svc)], stack_id="other/web", ingresses=("other/web",)),
        targets(other_svc, world.nodes),
    )
    mark = clients.counter.position()
    before = deployer.fingerprints()
    operations = [call.key.operation for call in clients.counter.calls(mark)]
    assert sorted(operations) == ["DescribeLoadBalancers", "DescribeTargetGroups", "GetResources"]
    assert set(before) == {"game-2048/ingress-2048", "other/web"}
    assert deployer.fingerprints() == before  # nothing changed: the same digests

    [tg] = first.target_group_arns.values()
    world.elbv2.modify_target_group(TargetGroupArn=tg, HealthCheckPath="/by-hand")
    edited = deployer.fingerprints()
    assert edited["game-2048/ingress-2048"] != before["game-2048/ingress-2048"]
    assert edited["other/web"] == before["other/web"]

    world.elbv2.add_tags(ResourceArns=[first.load_balancer_arn], Tags=[{"Key": "x", "Value": "y"}])
    assert deployer.fingerprints()["game-2048/ingress-2048"] != edited["game-2048/ingress-2048"]
