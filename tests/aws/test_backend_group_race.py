"""Two deploys creating the cluster's shared backend security group at once get one group.

Seen in every run of a 41-case battery before the fix: the loser of the race got
`InvalidGroup.Duplicate`, then a `KeyError: 'ingress.k8s.aws/stack'` (the duplicate check
read a stack tag the backend group never has), and its reconcile failed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from controller.aws.clients import AwsClients
from controller.aws.security_groups import SecurityGroups, backend_sg_name
from controller.aws.tags import BACKEND_SG_VALUE, TAG_BACKEND_SG
from controller.model.stack import TAG_CLUSTER
from tests.aws.conftest import World

CLUSTER = "race"


def backend_groups(clients: AwsClients) -> list[str]:
    groups = clients.ec2.describe_security_groups(
        Filters=[{"Name": f"tag:{TAG_BACKEND_SG}", "Values": [BACKEND_SG_VALUE]},
                 {"Name": f"tag:{TAG_CLUSTER}", "Values": [CLUSTER]}]
    )["SecurityGroups"]  # fmt: skip
    return sorted(g["GroupId"] for g in groups)


def test_losing_the_create_race_to_another_process_adopts_the_winners_group(
    world: World, clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    sgs = SecurityGroups(clients, CLUSTER, sleep=lambda _: None)
    # Another replica (or process) creates it right after our lookup found nothing.
    winner = clients.ec2.create_security_group(
        GroupName=backend_sg_name(CLUSTER), Description="x", VpcId=world.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [
            {"Key": TAG_CLUSTER, "Value": CLUSTER},
            {"Key": TAG_BACKEND_SG, "Value": BACKEND_SG_VALUE}]}],
    )["GroupId"]  # fmt: skip
    monkeypatch.setattr(sgs, "find_backend", lambda: [])
    assert sgs.ensure_backend(world.vpc_id) == winner
    assert backend_groups(clients) == [winner]


def test_a_strangers_group_of_that_name_is_still_refused(world: World, clients: AwsClients) -> None:
    clients.ec2.create_security_group(
        GroupName=backend_sg_name(CLUSTER), Description="someone else's", VpcId=world.vpc_id
    )
    sgs = SecurityGroups(clients, CLUSTER, sleep=lambda _: None)
    with pytest.raises(Exception, match="not ours"):
        sgs.ensure_backend(world.vpc_id)


def test_concurrent_workers_make_one_group(world: World, clients: AwsClients) -> None:
    sgs = SecurityGroups(clients, CLUSTER, sleep=lambda _: None)
    results: list[str] = []
    errors: list[Any] = []
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        try:
            results.append(sgs.ensure_backend(world.vpc_id))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and backend_groups(clients) == [results[0]]
