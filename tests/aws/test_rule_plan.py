"""The rule plan in isolation: pairing by content, one priority call, create before delete."""

from __future__ import annotations

from controller.aws.rules import BOTTOM_PRIORITY, DesiredRule, LiveRule, plan_rules


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
