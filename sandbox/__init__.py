"""The test sandbox: a real Kubernetes control plane and AWS (moto) on 127.0.0.1.

Not part of the product: the wheel and the image hold `controller` only. Developers run it
from a checkout: `python -m sandbox up` (prints `export` lines once ready), `python -m
sandbox demo` (`make demo`). The e2e tests, the ship tests and the benchmarks start it
through `sandbox.runner.Sandbox`.

Modules: `binaries` (the control plane's binaries, built by `scripts/k8s-binaries.sh`),
`pki` (certificates), `kubeconfig`, `controlplane` (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok as child processes), `aws` (moto, its seed and
the leak scan), `awsproxy` (AWS's latency, rate limits and faults in front of moto),
`runner` (all of it in one object), `converged` (does AWS hold the plan of the cluster),
`soak` (the seeded random soak), `demo`, `cli`; and the helpers the sandbox, the tests and
the benchmarks share: `processes` (free ports, dying with the parent), `waiting` (the one
poll loop), `controller_process` (the controller as a child process), `objects` (Kubernetes
object builders), `loopthread` (an asyncio loop in a daemon thread), `netproxy`.
"""
