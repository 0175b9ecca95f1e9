"""The sandbox's command line: `up` (start it and print the environment) and `demo`.

    python -m sandbox up [--kubeconfig PATH] [--nodes N] [--cluster-name NAME]
    python -m sandbox demo [--keep] [-f PATH] [--timeout S]

`up` is the default when no command is given. Progress goes to stderr; `up` prints only
`export` lines on stdout, so `python -m sandbox up > sandbox.env &` works. A person's
mistake (no Go toolchain, a failed build, a port in use) is one line saying what to fix.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sandbox.binaries import BinariesError
from sandbox.controlplane import ControlPlaneError

UP_DESCRIPTION = """\
Start a local sandbox on 127.0.0.1: a real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler; kwok plays the Nodes and their Pods) and moto
(AWS), seeded with a VPC, tagged subnets in two AZs, Nodes backed by EC2 instances, hosted
zones for example.com and an ACM certificate for *.example.com, plus the controller's
ServiceAccount, RBAC and IngressClass from deploy/manifests. Prints the environment as
`export` lines on stdout once ready, then runs until Ctrl-C or SIGTERM. The first start
builds the control plane's binaries (minutes; cached in ~/.cache/alb-ingress-controller).
In another shell, after sourcing the exports:
  kubectl apply -f examples/2048/
  KUBECONFIG=$CONTROLLER_KUBECONFIG alb-ingress-controller run
"""

DEMO_DESCRIPTION = """\
Show the controller at work, all on 127.0.0.1: start the sandbox, run the controller as its
ServiceAccount, apply examples/2048/, print the load balancer, rules, targets and DNS
records it made, then delete the Ingress and check that nothing is left in AWS. Exit status
0 when all of that happened.
"""

EXIT_OK = 0
EXIT_FAILED = 1


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def run_up(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from sandbox.runner import Sandbox  # noqa: PLC0415 (moto loads slowly; --help stays quick)

    stop = _stop_event()
    err.write("starting the sandbox (etcd, kube-apiserver, kube-controller-manager, "
              "kube-scheduler, kwok + moto) ...\n")  # fmt: skip
    err.flush()
    sandbox = Sandbox(
        cluster_name=args.cluster_name,
        nodes=args.nodes,
        kubeconfig=Path(args.kubeconfig).resolve() if args.kubeconfig else None,
    ).start()
    try:
        info = sandbox.describe()
        err.write(
            f"sandbox ready: Kubernetes API {info['api']}, AWS {info['aws']}, "
            f"{len(info['nodes'])} nodes, IngressClass alb. Ctrl-C stops it.\n"
        )
        out.write(sandbox.exports())
        out.flush()
        err.flush()
        stop.wait()
    finally:
        sandbox.stop()
    err.write("sandbox stopped\n")
    return EXIT_OK


def run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from sandbox.demo import EXAMPLE, Demo  # noqa: PLC0415

    manifests = Path(args.filename) if args.filename else EXAMPLE
    return Demo(
        out, manifests=manifests, keep=args.keep, timeout=args.timeout, stop=_stop_event()
    ).run()


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="The controller's local sandbox: a real Kubernetes control plane and moto.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    up = commands.add_parser(
        "up",
        help="start the sandbox and print its environment (the default)",
        description=UP_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument(
        "--kubeconfig", metavar="PATH", help="where to write the kubeconfig (default: a temp dir)"
    )
    up.add_argument("--nodes", type=int, default=2, help="Nodes to start with (default 2)")
    up.add_argument("--cluster-name", default="sandbox", help="cluster the subnets are tagged for")
    up.set_defaults(run=run_up)
    demo = commands.add_parser(
        "demo",
        help="run the controller on the 2048 example in the sandbox and show what it made",
        description=DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="do not delete: keep the sandbox and controller running for kubectl (Ctrl-C ends)",
    )
    demo.add_argument(
        "-f", "--filename", metavar="PATH", help="manifests to apply (default: examples/2048/)"
    )
    demo.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for each step (default 90)"
    )
    demo.set_defaults(run=run_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in ("-h", "--help")):
        arguments.insert(0, "up")
    args = make_parser().parse_args(arguments)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log
    try:
        code: int = args.run(args, sys.stdout, sys.stderr)
    except (BinariesError, ControlPlaneError) as error:
        sys.stderr.write(f"sandbox: {error}\n")
        return EXIT_FAILED
    return code
