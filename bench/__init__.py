"""The benchmark harness: AWS calls, convergence at scale, restart, target churn and memory.

`make bench` (`python -m bench`) runs the six scenarios of the benchmark issue against the
sandbox with AWS's latency and rate limits simulated by `controller.sandbox.awsproxy`, prints a
table and writes `bench/results/latest.json`; `make bench-quick` does the same at small
sizes. Modules: `sizes` (what each run size means), `env` (moto in its own process, the API
emulator, the proxy with a timestamped call log, the controller as a subprocess, RSS
sampling), `objects` (the Ingresses, Services and Deployments a scenario creates),
`scenarios` (the six scenarios), `report` (the table and the JSON), `__main__` (the CLI).
"""
