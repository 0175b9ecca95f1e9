"""Lost replies: a call AWS carried out whose answer never came, retried by botocore.

A target group whose CreateTargetGroup reply was lost is adopted with its settings applied;
a revoke whose reply was lost is done.

Found by the soak (`sandbox.soak`, seed 12, 20% AWS faults): a reset after moto had made the
target group; botocore's retry got DuplicateTargetGroupName, the deployer adopted the group
by name and returned at once, so its attributes (`target-group-attributes`) were never set.
The deploy succeeded, so the no-op digest skipped every later deploy: the target group kept
AWS's default deregistration delay until the next drift check.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.model.stack import SecurityGroupIngress
from tests.aws.conftest import World
from tests.aws.stacks import Svc, make_stack, targets

DELAY = "deregistration_delay.timeout_seconds"


def test_a_target_group_made_by_a_lost_create_gets_its_attributes(
    world: World, clients: AwsClients, deployer: Deployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = Svc(attributes=((DELAY, "30"),))
    stack = make_stack([("/", svc)])
    real = clients.elbv2.create_target_group

    def lost_reply(**params: Any) -> Any:
        real(**params)  # AWS made it; the reply never came and the retry says:
        raise ClientError(
            {"Error": {"Code": "DuplicateTargetGroupName", "Message": "exists"}},
            "CreateTargetGroup",
        )

    monkeypatch.setattr(clients.elbv2, "create_target_group", lost_reply)
    result = deployer.deploy(stack, targets(svc, world.nodes))
    arn = result.target_group_arns[svc.tg_id]
    attributes = clients.elbv2.describe_target_group_attributes(TargetGroupArn=arn)
    assert {a["Key"]: a["Value"] for a in attributes["Attributes"]}[DELAY] == "30"
    health = world.elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    assert health["HealthCheckPath"] == svc.target_group().health_check.path


def test_a_revoke_whose_reply_was_lost_is_done(
    world: World, clients: AwsClients, deployer: Deployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also found by the soak: a listen port dropped, so its managed security group rule was
    revoked; the reply was lost, botocore's retry got InvalidPermission.NotFound, and the
    group's deploy failed as non-retryable (retry in 10 minutes) for a rule already gone."""
    svc = Svc()
    stack = make_stack([("/", svc)])
    assert stack.security_group is not None
    extra = SecurityGroupIngress(port=8080, cidr="0.0.0.0/0")
    wider = stack.security_group.model_copy(
        update={"ingress": (*stack.security_group.ingress, extra)}
    )
    deployer.deploy(stack.model_copy(update={"security_group": wider}), targets(svc, world.nodes))
    real = clients.ec2.revoke_security_group_ingress

    def lost_reply(**params: Any) -> Any:
        real(**params)
        raise ClientError(
            {"Error": {"Code": "InvalidPermission.NotFound", "Message": "no such rule"}},
            "RevokeSecurityGroupIngress",
        )

    monkeypatch.setattr(clients.ec2, "revoke_security_group_ingress", lost_reply)
    deployer.deploy(stack, targets(svc, world.nodes))  # port 8080 is closed again
    group = world.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [stack.security_group.name]}]
    )["SecurityGroups"][0]
    assert [p["FromPort"] for p in group["IpPermissions"]] == [80]
