"""The local sandbox: a Kubernetes API emulator (and, with the AWS side, moto) on loopback.

`ApiServer` / `ApiServerThread` serve the Kubernetes API from an in-memory `Store`;
`write_kubeconfig` points kubectl, the `kubernetes` client and kopf at it; `Workloads`
simulates the controllers a cluster runs (Deployments -> Pods, Services -> IPs and
EndpointSlices, Nodes).
"""
