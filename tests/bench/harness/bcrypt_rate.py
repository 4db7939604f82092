"""The bcrypt ceiling on the current CPU set: Python bcrypt hashes and checks per second.

    usage: taskset -c 0 python tests/bench/harness/bcrypt_rate.py [COST] [SECONDS]

One thread, back to back: `hashpw` with a fresh salt (what signup does) for SECONDS,
then `checkpw` against one hash (what signin does) for SECONDS. Prints one JSON object.
The Python counterpart of shared/bench/bcrypt_rate.js; run.py calls it once per round.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import version

import bcrypt

PASSWORD = b"BenchPass123"


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Calls of `operation` per second, back to back for `seconds`."""
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while (now := time.perf_counter()) < end or count == 0:
        operation()
        count += 1
    return count / (now - start)


def main(argv: list[str]) -> int:
    cost = int(argv[1]) if len(argv) > 1 else 10
    seconds = float(argv[2]) if len(argv) > 2 else 5.0
    stored = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(cost))  # also warms up
    hash_rate = rate(lambda: bcrypt.hashpw(PASSWORD, bcrypt.gensalt(cost)), seconds)
    check_rate = rate(lambda: bcrypt.checkpw(PASSWORD, stored), seconds)
    report = {
        "bcrypt_version": version("bcrypt"),
        "python": platform.python_version(),
        "cost": cost,
        "seconds_per_test": seconds,
        "hashpw_per_s": round(hash_rate, 2),
        "checkpw_per_s": round(check_rate, 2),
        "ms_per_hash": round(1000 / hash_rate, 1),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
