"""A Kubernetes ALB ingress controller in Python.

Layers, one way: settings (`config`) -> kube layer (`operator`) -> pure model builder
(`model`) -> AWS layer (`aws`). `cli` wires them together; `sandbox` is a local Kubernetes
API and moto for demos and end-to-end tests. `docs/architecture.md` is the map.
"""
