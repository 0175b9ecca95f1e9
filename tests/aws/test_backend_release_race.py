"""A teardown must not delete the shared backend group while another deploy is attaching it.

Found by the soak (`sandbox.soak`, seed 20261212, two replicas): the new leader reconciled
three groups at once, one teardown and two deploys. The teardown's last step deleted the
cluster's backend security group because no load balancer used it yet, between the deploys'
lookup of that group and the load balancers that would have used it; both deploys then
failed with `InvalidGroup.NotFound` (non-retryable: retried only after 10 minutes), leaving
two groups without load balancers, target groups or DNS records.
"""

from __future__ import annotations

import threading

from controller.aws.clients import AwsClients, CallRecord
from controller.aws.deployer import Deployer
from tests.aws.conftest import World
from tests.aws.stacks import SVC_2048, Svc, make_stack, targets
from tests.aws.state import actual, expected


def _backend_groups(world: World) -> list[str]:
    groups = world.ec2.describe_security_groups(
        Filters=[{"Name": "tag:elbv2.k8s.aws/resource", "Values": ["backend-sg"]}]
    )["SecurityGroups"]
    return [g["GroupId"] for g in groups]


def test_a_teardown_keeps_the_backend_group_a_concurrent_deploy_is_attaching(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    other = Svc(name="other", ingress="other", node_port=30099)
    first = make_stack()
    second = make_stack([("/", other)], stack_id="game-2048/other", host="other.example.com")
    deployer.deploy(first, targets(SVC_2048, world.nodes))

    paused, resume = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def hold(record: CallRecord) -> None:
        # The second deploy has found (and opened the nodes to) the backend group; its load
        # balancer does not exist yet. Hold it there while the first stack is torn down.
        if threading.current_thread() is worker and record.key.operation == "CreateTargetGroup":
            paused.set()
            resume.wait(30)

    def deploy_second() -> None:
        try:
            deployer.deploy(second, targets(other, world.nodes))
        except Exception as error:
            errors.append(error)

    worker = threading.Thread(target=deploy_second)
    unsubscribe = clients.counter.subscribe(hold)
    try:
        worker.start()
        assert paused.wait(30), "the second deploy never reached CreateTargetGroup"
        deployer.teardown(first.id)  # the cluster's only load balancer goes
    finally:
        resume.set()
        worker.join(30)
        unsubscribe()
    assert errors == []
    assert actual(world, second.id) == expected(second, targets(other, world.nodes))
    backend = _backend_groups(world)
    assert len(backend) == 1
    lb = world.elbv2.describe_load_balancers()["LoadBalancers"]
    ours = [x for x in lb if x["LoadBalancerName"] == second.load_balancer.name]
    assert backend[0] in ours[0]["SecurityGroups"]
    deployer.teardown(second.id)
    assert world.leaks() == []


def test_two_teardowns_of_the_last_stacks_at_once_both_finish(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    """Also found by the soak: the final delete tore the last three groups down at once; two
    released the backend group together, and the one that revoked the node group's rule
    after the other had deleted the group failed with InvalidGroup.NotFound, non-retryable,
    so its Ingress kept its finalizer for 10 minutes."""
    other = Svc(name="other", ingress="other", node_port=30099)
    first = make_stack()
    second = make_stack([("/", other)], stack_id="game-2048/other", host="other.example.com")
    deployer.deploy(first, targets(SVC_2048, world.nodes))
    deployer.deploy(second, targets(other, world.nodes))

    paused, resume = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def hold(record: CallRecord) -> None:
        # The second teardown has listed the groups whose rules name the backend group;
        # hold it there (a few seconds at most: with the fix, the first teardown waits for
        # it) while the first teardown runs.
        filters = record.params.get("Filters") or [{}]
        if (
            threading.current_thread() is worker
            and record.key.operation == "DescribeSecurityGroups"
            and filters[0].get("Name") == "ip-permission.group-id"
        ):
            paused.set()
            resume.wait(3)

    def teardown_second() -> None:
        try:
            deployer.teardown(second.id)
        except Exception as error:
            errors.append(error)

    # The second's load balancer goes first, so both teardowns find the group unused.
    lbs = world.elbv2.describe_load_balancers(Names=[second.load_balancer.name])
    world.elbv2.delete_load_balancer(LoadBalancerArn=lbs["LoadBalancers"][0]["LoadBalancerArn"])
    world.elbv2.delete_load_balancer(
        LoadBalancerArn=world.elbv2.describe_load_balancers(Names=[first.load_balancer.name])[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
    )
    worker = threading.Thread(target=teardown_second)
    unsubscribe = clients.counter.subscribe(hold)
    try:
        worker.start()
        assert paused.wait(30), "the second teardown never listed the referencing groups"
        deployer.teardown(first.id)
    finally:
        resume.set()
        worker.join(60)
        unsubscribe()
    assert errors == []
    assert world.leaks() == []
