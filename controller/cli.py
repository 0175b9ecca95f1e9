"""The `alb-ingress-controller` command line: one function per subcommand, no logic of its own.

Each subcommand is a `(name, register, run)` entry in `COMMANDS`: `register` adds its
arguments to an argparse sub-parser and `run` does the work and returns the exit code. The
local sandbox and the demo are developer tools of the source tree, not of the product
(`python -m sandbox`, `make demo`), so the image carries neither.
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
from controller.kube.operator import SetupError, run
from controller.logs import configure_logging
from controller.manifests import ManifestError, load_manifests
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
        err.write(f"error: bad settings in the environment: {settings_problems(error)}\n")
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


def settings_problems(error: ValidationError) -> str:
    """Each bad setting on one line: its variable and what is wrong with the value."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper()
        if not name:  # a check across settings: its message names them
            problems.append(str(item["msg"]).removeprefix("Value error, "))
            continue
        problems.append(f"{name}={item.get('input')!r}: {item['msg']}")
    return "; ".join(problems)


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
    parser.add_argument("--resync-seconds", type=float, help="drift sweep period (default 600)")
    parser.add_argument(
        "--no-dns", action="store_true", help="do not manage Route 53 records (MANAGE_DNS=false)"
    )
    # external-dns's Route 53 flags, by its names (DOMAIN_FILTER, ... as JSON lists).
    for flag, what in (
        ("--domain-filter", "only hosts in this domain get records"),
        ("--exclude-domains", "no host in this domain gets records"),
        ("--zone-id-filter", "use only this hosted zone"),
        ("--aws-zone-tags", "use only hosted zones with this tag, key=value"),
    ):
        parser.add_argument(flag, action="append", metavar="VALUE", help=f"{what} (repeatable)")
    parser.add_argument(
        "--aws-zone-type", choices=("public", "private", "both"), help="hosted zones to use"
    )
    parser.add_argument(
        "--dns-policy",
        "--policy",
        dest="dns_policy",
        choices=("sync", "upsert-only"),
        help="upsert-only never deletes Route 53 records (default: sync)",
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


def _dns_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The Route 53 flags given (lists from repeated flags, choices as given)."""
    lists = ("domain_filter", "exclude_domains", "zone_id_filter", "aws_zone_tags")
    overrides: dict[str, object] = {
        name: getattr(args, name) for name in lists if getattr(args, name)
    }
    for name in ("aws_zone_type", "dns_policy"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    return overrides


def _run_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    overrides: dict[str, object] = {}
    if args.cluster_name:
        overrides["cluster_name"] = args.cluster_name
    if args.namespaces:
        overrides["watch_namespaces"] = args.namespaces
    if args.resync_seconds is not None:
        overrides["resync_seconds"] = args.resync_seconds
    overrides.update(_dns_overrides(args))
    if args.no_dns:
        overrides["manage_dns"] = False
    if args.ignore_incumbent:
        overrides["ignore_incumbent"] = True
    if args.leader_elect:
        overrides["leader_elect"] = True
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        err.write(f"error: bad settings: {settings_problems(error)}\n")
        return EXIT_UNREADABLE
    configure_logging(args.log_format, debug=settings.aws_debug)
    try:
        run(settings, liveness=args.liveness)
    except (IncumbentActiveError, SetupError) as error:
        err.write(f"error: {error}\n")
        return EXIT_UNREADABLE
    return EXIT_OK


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
        epilog="The local sandbox and the demo live in the source repository: `make demo`, "
        "`python -m sandbox --help`.",
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
