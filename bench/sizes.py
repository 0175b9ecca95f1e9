"""What each run size means: the fleets, the churn steps and the drift-check period.

`full` is the issue's: 100, 300 and 1,000 Ingresses (the last 45 IngressGroups of 20 plus
100 lone), restart at 1,000, a Deployment scaled 5 -> 50 -> 5 and rolled. `quick` is the
same scenarios small enough for `make bench-quick` (under two minutes on 2 cores); `smoke`
is smaller still, for the test that checks the harness in `make test`. `xl` shows how the
cost grows past the issue's size: 2,500 Ingresses (112 groups of 20 plus 260 lone, 372 ALBs)
in one environment, with restart and target churn at that size (`make bench-xl`, about half
an hour here, most of it the 5/s ELBv2 mutating bucket). Not 3,000: each Ingress has a
NodePort Service, and the NodePort range holds 2,768.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bench.objects import Fleet, fleet_of


@dataclass(frozen=True)
class Size:
    name: str
    scale: tuple[Fleet, ...]  # scenario 3, one fresh environment each; the last also hosts 4-5
    noop_fleet: Fleet | None  # extra groups beside 2048 for scenario 2 (None: 2048 alone)
    resync_seconds: float  # the drift-check period in the 2048/no-op environment
    churn: tuple[int, int, int]  # scenario 5: replicas low -> high -> low, then a roll
    churn_rounds: int
    timeout_per_ingress: float  # seconds of deadline per Ingress for scale/restart waits


FULL = Size(
    name="full",
    scale=(fleet_of("s100", 100), fleet_of("s300", 300), Fleet("s1000", 45, 20, 100)),
    noop_fleet=fleet_of("noop", 25),
    resync_seconds=20.0,
    churn=(5, 50, 5),
    churn_rounds=3,
    timeout_per_ingress=1.8,
)

QUICK = Size(
    name="quick",
    scale=(Fleet("s25", 2, 10, 5),),
    noop_fleet=None,
    resync_seconds=15.0,
    churn=(2, 6, 2),
    churn_rounds=1,
    timeout_per_ingress=6.0,
)

SMOKE = Size(
    name="smoke",
    scale=(Fleet("s5", 1, 3, 2),),
    noop_fleet=None,
    resync_seconds=10.0,
    churn=(1, 3, 1),
    churn_rounds=1,
    timeout_per_ingress=20.0,
)

# 2,500: a NodePort Service each, and the NodePort range (30000-32767) holds 2,768.
XL = replace(FULL, name="xl", scale=(Fleet("s2500", 112, 20, 260),), noop_fleet=None)

SIZES = {s.name: s for s in (FULL, QUICK, SMOKE, XL)}
