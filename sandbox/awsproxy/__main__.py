"""Run the AWS proxy standalone: ``python -m sandbox.awsproxy``.

For benchmarks that run the controller as a separate process. With ``--upstream`` it fronts
an existing moto server; without, it starts one in-process. It prints one JSON line,
``{"proxy_url": ..., "moto_url": ...}``, once both listen, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from contextlib import ExitStack, suppress

from sandbox.awsproxy.profiles import NO_BUCKETS
from sandbox.awsproxy.runner import AwsProxyThread, start_moto_with_proxy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.awsproxy")
    parser.add_argument("--upstream", help="moto server URL (default: start one in-process)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-scale", type=float, default=1.0)
    parser.add_argument("--no-throttling", action="store_true", help="no token buckets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.latency_scale < 0:
        parser.error(f"--latency-scale: must be >= 0, got {args.latency_scale}")

    kwargs = {
        "host": args.host,
        "port": args.port,
        "latency_scale": args.latency_scale,
        "seed": args.seed,
    }
    if args.no_throttling:
        kwargs["buckets"] = NO_BUCKETS
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with ExitStack() as stack:
        if args.upstream:
            proxy = stack.enter_context(AwsProxyThread(args.upstream, **kwargs))
            moto_url = args.upstream
        else:
            moto_url, proxy = stack.enter_context(start_moto_with_proxy(**kwargs))
        print(json.dumps({"proxy_url": proxy.url, "moto_url": moto_url}), flush=True)
        with suppress(KeyboardInterrupt):
            done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
