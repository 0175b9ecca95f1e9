"""The kube layer's helpers: what the kopf handlers in `controller.kube.operator` lean on.

`cache` holds the watched objects and which groups use what, `scheduler` runs one reconcile
per group at a time, `reconciler` turns a group into model -> AWS -> status, `writer` makes
the few Kubernetes writes (finalizers, status, annotations, Events), `bindings` releases the
TargetGroupBindings aws-load-balancer-controller left for a group once the group is applied,
`incumbent` checks for a running aws-load-balancer-controller and `leader` elects one active
replica. None of them
calls AWS directly: they hand a `Stack` to `controller.aws`.
"""
