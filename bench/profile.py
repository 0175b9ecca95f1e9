"""Summarise a py-spy collapsed-stack profile: where the controller's samples went.

`python -m bench.profile FILE [N]` prints the N functions with the most samples on top of the
stack (self), and the N functions of the controller's own code with the most samples anywhere
on the stack (inclusive), as shares of the busy samples. py-spy samples only threads it
thinks active; samples still ending in a wait (select/epoll, locks, sleeps) are counted as
idle, so the shares show where the CPU went rather than where threads waited.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

IDLE_MARKERS = ("select (", "poll (", "epoll", "wait (", "_wait_for_tstate_lock", "sleep (",
                "acquire (", "accept (", "recv_into (", "readinto (")  # fmt: skip


def summarise(path: Path, top: int = 15) -> str:
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        if any(m in frames[-1] for m in IDLE_MARKERS):
            idle += count
            continue
        self_counts[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    busy = total - idle
    lines = [f"{path.name}: {total} samples, {busy} busy ({100 * busy / max(total, 1):.0f}%)"]
    ours = Counter({f: c for f, c in inclusive.items() if "controller/" in f})
    sections = (("self (busy samples)", self_counts), ("inclusive, controller code", ours))
    for title, counter in sections:
        lines.append(f"  top {top} {title}:")
        for frame, count in counter.most_common(top):
            lines.append(f"    {100 * count / max(busy, 1):5.1f}%  {frame}")
    return "\n".join(lines)


def main() -> None:
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    print(summarise(Path(sys.argv[1]), top))


if __name__ == "__main__":
    main()
