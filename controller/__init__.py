"""A Kubernetes ALB ingress controller in Python.

Layers, one way: settings (`config`) -> kube layer (`operator`) -> pure model builder
(`model`) -> AWS layer (`aws`). `cli` wires them together. The test sandbox (a real control
plane and moto) is the repository's top-level `sandbox` package, not part of this one.
`docs/architecture.md` is the map.
"""
