"""AWS refusing one member's part names that member (issue: migration safety, points 4, 6).

The kube layer leaves a named member out of its group and deploys the rest
(tests/unit/kube/test_refused_member.py); here, that the AWS layer names the right member,
and only for refusals that are that member's: a host of its without a certificate (found
before any change is made), a rule or target group of its that AWS rejects. A refusal of
what the whole group shares names no one.
"""

from __future__ import annotations

import pytest

from controller.aws.clients import AwsClients
from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError, on_behalf_of
from controller.model.stack import ForwardAction, Rule, TargetGroupTuple
from tests.aws.conftest import World, import_certificate
from tests.aws.stacks import SVC_2048, make_stack, path_rule, targets

OTHER = "other/b"


def test_a_host_without_a_certificate_names_its_member_before_any_change(
    world: World, clients: AwsClients, deployer: Deployer
) -> None:
    import_certificate("2048.example.com")
    stack = make_stack(https=())
    https = stack.listeners[1].model_copy(
        update={
            "certificate_hosts": ("2048.example.com", "nocert.example.com"),
            "certificate_hosts_of": {
                "game-2048/ingress-2048": ("2048.example.com",),
                OTHER: ("nocert.example.com",),
            },
        }
    )
    stack = stack.model_copy(update={"listeners": (stack.listeners[0], https)})
    mark = clients.counter.position()

    with pytest.raises(AwsError) as caught:
        deployer.deploy(stack, targets(SVC_2048, world.nodes))

    assert caught.value.code == "CertificateNotFound"
    assert caught.value.ingresses == (OTHER,)
    assert "nocert.example.com" in str(caught.value)
    assert clients.counter.mutating(mark) == [], "a change was made before the refusal"


def test_a_rule_aws_rejects_names_the_member_it_belongs_to(
    world: World, deployer: Deployer
) -> None:
    stack = make_stack()
    missing = (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/0123456789abcdef"
    )
    bad = Rule(
        priority=2,
        conditions=path_rule(2, "b.example.com", "/", SVC_2048).conditions,
        actions=(ForwardAction(target_groups=(TargetGroupTuple(target_group_arn=missing),)),),
        ingress=OTHER,
    )
    http = stack.listeners[0]
    http = http.model_copy(update={"rules": (*http.rules, bad)})
    stack = stack.model_copy(update={"listeners": (http,)})

    with pytest.raises(AwsError) as caught:
        deployer.deploy(stack, targets(SVC_2048, world.nodes))

    assert caught.value.code == "TargetGroupNotFound", caught.value
    assert caught.value.ingresses == (OTHER,)


def test_a_refusal_of_what_the_group_shares_names_no_member() -> None:
    with pytest.raises(AwsError) as caught, on_behalf_of([OTHER], "rule 1"):
        raise AwsError("rule 1", "AccessDenied", "not allowed", retryable=False)
    assert caught.value.ingresses == ()
    with pytest.raises(AwsError) as caught, on_behalf_of([OTHER], "rule 1"):
        raise AwsError("rule 1", "PriorityInUse", "taken", retryable=True)
    assert caught.value.ingresses == ()
