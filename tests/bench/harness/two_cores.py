"""Does this machine's second core add a whole core? A CPU-bound Python loop alone on CPU 0,
then the same loop on CPU 0 and CPU 1 at once; seconds each, three tries.

    python tests/bench/run.py two-cores

On a host whose two vCPUs share a physical core (or its caches) with each other or with other
tenants, the loops take longer together than alone: the ceiling any two-process figure on this
machine (`--workers 2`, bcrypt on two cores) can reach. Linux only (taskset).
"""

from __future__ import annotations

import subprocess
import sys
import time

LOOP = "s = 0\nfor i in range(6_000_000):\n    s += i * i % 7\n"


def timed_loop() -> float:
    started = time.perf_counter()
    exec(LOOP)  # noqa: S102 (our own constant)
    return time.perf_counter() - started


def on(cpu: int) -> subprocess.Popen[str]:
    command = ["taskset", "-c", str(cpu), sys.executable, __file__, "--one"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--one"]:
        print(f"{timed_loop():.3f}")
        return 0
    for attempt in range(1, 4):
        alone = float(on(0).communicate()[0])
        pair = [on(0), on(1)]
        together = [float(process.communicate()[0]) for process in pair]
        slower = sum(together) / len(together) / alone
        print(
            f"try {attempt}: alone {alone:.3f} s; together {together[0]:.3f} s and "
            f"{together[1]:.3f} s: two cores do {2 / slower:.2f}x one"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
