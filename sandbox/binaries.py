"""Where the control plane's binaries are: built once by `scripts/k8s-binaries.sh`.

The script builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
kwok and helm (for the chart's tests) from the Go module proxy into a cache outside the work
tree, keyed by version, and is a no-op when they are there. Its progress (minutes, the first
time) goes straight to our stderr so a first `make demo` or `make test` never looks hung.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "k8s-binaries.sh"
NAMES = (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok",
    "helm",
)  # fmt: skip


class BinariesError(Exception):
    """The build failed (its log tail was printed) or left a binary out."""


@dataclass(frozen=True)
class Binaries:
    directory: Path

    def path(self, name: str) -> str:
        return str(self.directory / name)

    @property
    def kwok_stages(self) -> Path:
        return self.directory / "kwok-stages"


def binaries() -> Binaries:
    """Build what is missing (or find it) and return the directory."""
    env = dict(os.environ)
    done = subprocess.run(
        ["bash", str(SCRIPT)], stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
        env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BinariesError(f"{SCRIPT.name} failed (exit {done.returncode}); see its output above")
    directory = Path(done.stdout.strip().splitlines()[-1])
    missing = [n for n in NAMES if not (directory / n).is_file()]
    if missing:
        raise BinariesError(f"{directory} lacks {', '.join(missing)}: delete it and build again")
    return Binaries(directory)
