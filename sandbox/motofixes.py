"""Where moto refuses what AWS accepts, the sandbox's moto behaves as AWS does.

Only corrections of that direction live here (moto stricter than AWS), so the controller is
never pushed into extra calls that real AWS does not need. The AWS-layer tests add the other
direction too (moto accepting what AWS rejects: `tests/aws/strict.py`).

- SetRulePriorities: AWS checks the *final* order ("you can reorder the rules as long as
  there are no priority conflicts in the new order"), so one call may swap rules or move a
  rule into the slot of another that moves away. moto checks each new priority against the
  current ones, so removing a member from the middle of a group (every later rule moves up
  one, the removed rule moves out of the way in the same call) failed with PriorityInUse and
  stalled the group's teardown in e2e.

`python -m sandbox.motofixes -H 127.0.0.1 -p PORT` is moto's server with the corrections.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.elbv2.exceptions import ELBClientError, RuleNotFoundError
from moto.elbv2.models import ELBv2Backend


def set_rule_priorities(self: ELBv2Backend, rule_priorities: list[dict[str, Any]]) -> list[Any]:
    """AWS's semantics: duplicates in the call, or a clash with a rule that is not moving,
    are refused; anything else is applied at once."""
    moving = {rp["RuleArn"]: int(rp["Priority"]) for rp in rule_priorities}
    if len(set(moving.values())) != len(moving):
        raise ELBClientError("PriorityInUse", "duplicate priorities in one call")
    rules = []
    for arn, priority in moving.items():
        found = self.describe_rules(listener_arn=None, rule_arns=[arn])
        if not found:
            raise RuleNotFoundError()
        rule = found[0]
        listener = self.describe_listeners(None, [rule.listener_arn])[0]
        for other in listener.rules.values():
            if other.arn not in moving and other.priority == priority:
                raise ELBClientError("PriorityInUse", "The specified priority is in use.")
        rules.append((rule, priority))
    for rule, priority in rules:
        rule.priority = priority
    return [rule for rule, _ in rules]


def apply() -> None:
    """Correct moto in this process (its in-process server shares the backends)."""
    ELBv2Backend.set_rule_priorities = set_rule_priorities  # type: ignore[method-assign]


def main() -> None:
    from moto.server import main as moto_main  # noqa: PLC0415

    apply()
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
