"""The benchmark harness: AWS calls, convergence at scale, restart, target churn and memory.

`make bench` (`python -m bench`) runs the six scenarios of the benchmark issue against the
sandbox (a real control plane with kwok Nodes, and moto) with AWS's latency and rate limits
simulated by `sandbox.awsproxy`, prints a table and writes `bench/results/latest.json`;
`make bench-quick` does the same at small sizes. Modules: `sizes` (what each run size
means), `env` (the sandbox with moto in its own process, the proxy with a timestamped call
log, the controller as a subprocess, RSS sampling), `kube` (the harness's API client:
parallel creates, paged lists, the EndpointSlice watch), `objects` (the Ingresses, Services
and Deployments a scenario creates), `scenarios` (the six scenarios), `report` (the table
and the JSON), `__main__` (the CLI).
"""
