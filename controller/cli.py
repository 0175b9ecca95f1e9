"""The `alb-ingress-controller` command line: one function per subcommand, no logic of its own.

Each subcommand is a `(name, register, run)` entry in `COMMANDS`: `register` adds its
arguments to an argparse sub-parser and `run` does the work and returns the exit code. Later
subcommands (`run`, `sandbox`, `demo`) are added the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, TextIO

from pydantic import ValidationError

from controller.config import Settings
from controller.kube.incumbent import IncumbentActiveError
from controller.logs import configure_logging
from controller.manifests import ManifestError, load_manifests
from controller.operator import run
from controller.plan import plan_objects, render_json, render_text

EXIT_OK = 0
EXIT_UNREADABLE = 1
EXIT_BUILD_ERRORS = 2

PLAN_DESCRIPTION = """\
Show what the controller would create in AWS for these manifests: the load balancer, target
groups, listeners, rules and DNS records per Ingress group, or precise errors.

Only Ingresses of this controller's class count. Manifests seldom carry the cluster's
IngressClass, so when none named INGRESS_CLASS (default: alb) is among them, plan assumes it
exists and belongs to this controller.

Exit status: 0 when every Ingress built, 2 when any has errors (the rest is still printed),
1 when the input cannot be read (or the command line is wrong).
"""


def _register_plan(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="paths",
        action="append",
        required=True,
        metavar="PATH",
        help="a YAML/JSON manifest file or a folder of them (repeatable)",
    )
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    parser.add_argument(
        "--cluster-name", help="cluster name used in tags and names (default: $CLUSTER_NAME)"
    )


def _run_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        settings = Settings()
    except ValidationError as error:
        err.write(f"error: bad settings in the environment: {error}\n")
        return EXIT_UNREADABLE
    defaults = settings.model_defaults()
    if args.cluster_name:
        defaults = defaults.model_copy(update={"cluster_name": args.cluster_name})
    try:
        objects = load_manifests(args.paths)
    except ManifestError as error:
        err.write(f"error: {error}\n")
        return EXIT_UNREADABLE
    plan = plan_objects(objects, defaults)
    out.write(render_json(plan) if args.output == "json" else render_text(plan))
    return EXIT_BUILD_ERRORS if plan.errors else EXIT_OK


RUN_DESCRIPTION = """\
Run the controller: watch Ingresses of the alb class (and the Services, EndpointSlices,
Nodes and IngressClasses they use) and make AWS match them. Kubernetes access comes from
the in-cluster service account or $KUBECONFIG; AWS access from the usual AWS variables.
Every flag has an environment variable of the same name in upper case (CLUSTER_NAME, ...).
"""


def _register_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster-name", help="tags and names (default: $CLUSTER_NAME)")
    parser.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NS",
        help="watch only this namespace (repeatable; default: all)",
    )
    parser.add_argument("--resync-seconds", type=float, help="drift check period (default 600)")
    parser.add_argument(
        "--no-dns", action="store_true", help="do not manage Route 53 records (MANAGE_DNS=false)"
    )
    parser.add_argument(
        "--ignore-incumbent",
        action="store_true",
        help="start even while aws-load-balancer-controller holds a fresh leader Lease",
    )
    parser.add_argument(
        "--leader-elect",
        action="store_true",
        help="elect one active replica on a Lease (for 2+ replicas)",
    )
    parser.add_argument(
        "--liveness", metavar="URL", help="health endpoint, e.g. http://0.0.0.0:8080/healthz"
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        default="auto",
        help="auto: text on a terminal, JSON lines otherwise",
    )


def _run_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    overrides: dict[str, object] = {}
    if args.cluster_name:
        overrides["cluster_name"] = args.cluster_name
    if args.namespaces:
        overrides["watch_namespaces"] = args.namespaces
    if args.resync_seconds is not None:
        overrides["resync_seconds"] = args.resync_seconds
    if args.no_dns:
        overrides["manage_dns"] = False
    if args.ignore_incumbent:
        overrides["ignore_incumbent"] = True
    if args.leader_elect:
        overrides["leader_elect"] = True
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        err.write(f"error: bad settings: {error}\n")
        return EXIT_UNREADABLE
    configure_logging(args.log_format, debug=settings.aws_debug)
    try:
        run(settings, liveness=args.liveness)
    except IncumbentActiveError as error:
        err.write(f"error: {error}\n")
        return EXIT_UNREADABLE
    return EXIT_OK


SANDBOX_DESCRIPTION = """\
Start a local sandbox: a Kubernetes API emulator and moto (AWS) on 127.0.0.1, seeded with a
VPC, tagged subnets in two AZs, Nodes backed by EC2 instances, hosted zones for example.com
and an ACM certificate for *.example.com, plus the IngressClass alb. Prints the environment
as `export` lines on stdout (progress goes to stderr), then runs until Ctrl-C or SIGTERM.
Everything is in memory. In another shell, after sourcing the exports:
  kubectl apply -f examples/2048/ && alb-ingress-controller run
"""


def _register_sandbox(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="Kubernetes API port (default: any)")
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="where to write the kubeconfig (default: a temp dir)"
    )
    parser.add_argument("--nodes", type=int, default=2, help="Nodes to start with (default 2)")
    parser.add_argument(
        "--cluster-name", default="sandbox", help="cluster the subnets are tagged for"
    )


def _run_sandbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import logging
    import signal
    import threading
    from pathlib import Path

    from controller.sandbox.runner import Sandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    err.write("starting the sandbox (Kubernetes API emulator + moto) ...\n")
    sandbox = Sandbox(
        cluster_name=args.cluster_name,
        nodes=args.nodes,
        api_port=args.port,
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


DEMO_DESCRIPTION = """\
Show the controller at work, all on 127.0.0.1: start the sandbox, run the controller, apply
examples/2048/, print the load balancer, rules, targets and DNS records it made, then delete
the Ingress and check that nothing is left in AWS. Exit status 0 when all of that happened.
"""


def _register_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        action="store_true",
        help="do not delete: keep the sandbox and controller running for kubectl (Ctrl-C ends)",
    )
    parser.add_argument(
        "-f", "--filename", metavar="PATH", help="manifests to apply (default: examples/2048/)"
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for each step (default 90)"
    )


def _run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import logging
    import signal
    import threading
    from pathlib import Path

    from controller.sandbox.demo import EXAMPLE, Demo

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    manifests = Path(args.filename) if args.filename else EXAMPLE
    return Demo(out, manifests=manifests, keep=args.keep, timeout=args.timeout, stop=stop).run()


Runner = Callable[[argparse.Namespace, TextIO, TextIO], int]


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, for `--help` of the program
    description: str  # for `--help` of the subcommand
    register: Callable[[argparse.ArgumentParser], None]
    run: Runner


COMMANDS: tuple[Command, ...] = (
    Command(
        "plan",
        "show the AWS resources the controller wants for some manifests",
        PLAN_DESCRIPTION,
        _register_plan,
        _run_plan,
    ),
    Command(
        "run",
        "run the controller against the current cluster",
        RUN_DESCRIPTION,
        _register_run,
        _run_run,
    ),
    Command(
        "sandbox",
        "start a local Kubernetes API and AWS (moto) to try the controller against",
        SANDBOX_DESCRIPTION,
        _register_sandbox,
        _run_sandbox,
    ),
    Command(
        "demo",
        "run the controller on the 2048 example in a local sandbox and show what it made",
        DEMO_DESCRIPTION,
        _register_demo,
        _run_demo,
    ),
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1: exit status 2 means "built with errors"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="alb-ingress-controller",
        description="A Kubernetes ALB ingress controller (aws-load-balancer-controller "
        "compatible) with Route 53 built in.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.register(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one subcommand and return its exit status (the console script exits with it)."""
    args = make_parser().parse_args(argv)
    run: Runner = args.run
    return run(args, out or sys.stdout, err or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
