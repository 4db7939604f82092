"""Install Debian's chromium when it is missing, for the browser test (run by `tox -e browser`).

Playwright's own browser download cannot work on machines with no access beyond the
package registries, so the test drives the distribution's chromium instead. Without
root or apt-get, say so and leave the test to skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    if os.path.exists(CHROMIUM):
        return 0
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get)")
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        subprocess.run(command, check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
