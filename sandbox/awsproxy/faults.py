"""Fault injection by rule: which calls fail, how, and when, reproducibly from a seed.

Fault tests need AWS's bad days on demand: a 500 or 503 in the service's own error format,
a connection reset, or a reply that never comes in time. A rule picks calls by service and
operation globs and fires on every match, with a probability, on every Nth match, or on the
next N matches. ``after_upstream`` makes a reset or timeout happen after moto has applied the
call, so the client cannot tell whether its mutation took effect (the case idempotent
reconciles must survive). Probabilities draw from one ``random.Random(seed)``, so the same
seed and the same call sequence inject the same faults.
"""

from __future__ import annotations

import fnmatch
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.awsproxy.identify import Call

FaultAction = Literal["internal", "unavailable", "reset", "timeout"]


class FaultRule(BaseModel):
    """One fault: which calls (globs), what happens, and the trigger (at most one of three).

    - ``internal``: HTTP 500 InternalFailure (ec2: InternalError);
    - ``unavailable``: HTTP 503 ServiceUnavailable (ec2: Unavailable);
    - ``reset``: the TCP connection is reset without a reply;
    - ``timeout``: nothing is sent for ``delay_s`` (set it beyond the client's read timeout),
      then the connection is reset; before upstream, moto never sees the call.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: FaultAction
    service: str = "*"
    operations: tuple[str, ...] = ("*",)
    probability: float | None = Field(default=None, ge=0, le=1)
    every_nth: int | None = Field(default=None, ge=1)
    next_n: int | None = Field(default=None, ge=1)
    delay_s: float = Field(default=30.0, ge=0)
    after_upstream: bool = False

    @model_validator(mode="after")
    def _one_trigger(self) -> FaultRule:
        set_ = [n for n in ("probability", "every_nth", "next_n") if getattr(self, n) is not None]
        if len(set_) > 1:
            raise ValueError(f"fault rule: set at most one of {set_}, not several")
        if self.after_upstream and self.action not in ("reset", "timeout"):
            raise ValueError(
                f"fault rule: after_upstream applies to reset/timeout, not {self.action}"
            )
        return self

    def matches(self, call: Call) -> bool:
        return fnmatch.fnmatchcase(call.service, self.service) and any(
            fnmatch.fnmatchcase(call.operation, op) for op in self.operations
        )


class FaultInjector:
    """The active rules, their match counts, and the seeded random source."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[tuple[FaultRule, list[int]]] = []  # rule, [matches, fired]

    def add(self, rule: FaultRule) -> None:
        self._rules.append((rule, [0, 0]))

    def clear(self) -> None:
        self._rules.clear()
        self._rng = random.Random(self._seed)

    def rules(self) -> list[FaultRule]:
        return [rule for rule, _ in self._rules]

    def pick(self, call: Call) -> FaultRule | None:
        """The first rule that fires for ``call`` (every matching rule counts the match)."""
        chosen: FaultRule | None = None
        for rule, counts in self._rules:
            if not rule.matches(call):
                continue
            counts[0] += 1
            if chosen is None and self._fires(rule, counts):
                counts[1] += 1
                chosen = rule
        return chosen

    def _fires(self, rule: FaultRule, counts: list[int]) -> bool:
        matches, fired = counts
        if rule.probability is not None:
            return self._rng.random() < rule.probability
        if rule.every_nth is not None:
            return matches % rule.every_nth == 0
        if rule.next_n is not None:
            return fired < rule.next_n
        return True


def fault_mix(
    rate: float,
    services: tuple[str, ...] = ("elbv2", "ec2", "route53", "resourcegroupstaggingapi"),
    delay_s: float = 2.0,
) -> list[FaultRule]:
    """Rules that hit ``rate`` of each service's calls, spread evenly over five kinds of bad
    reply: 500, 503, a reset before AWS saw the call, a reset after AWS carried it out (the
    caller cannot tell whether it took effect), and a reply held ``delay_s`` then reset.

    ``pick`` takes the first rule that fires, so rule i of n fires with the probability
    that makes each kind ``rate / n`` of all calls: (rate/n) / (1 - i*rate/n).
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"fault_mix: rate must be within [0, 1], got {rate}")
    kinds: list[dict[str, object]] = [
        {"action": "internal"},
        {"action": "unavailable"},
        {"action": "reset"},
        {"action": "reset", "after_upstream": True},
        {"action": "timeout", "delay_s": delay_s},
    ]
    share = rate / len(kinds)
    rules = []
    for service in services:
        for i, kind in enumerate(kinds):
            probability = share / (1 - i * share)
            rules.append(FaultRule.model_validate({**kind, "service": service,
                                                   "probability": probability}))  # fmt: skip
    return rules
