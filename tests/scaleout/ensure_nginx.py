"""Install Debian's nginx when it is missing, for the scale-out test (run by `tox -e scaleout`).

Without root or apt-get, say so and leave the test to skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

NGINX = "/usr/sbin/nginx"


def main() -> int:
    if os.path.exists(NGINX) or shutil.which("nginx"):
        return 0
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"{NGINX} is missing and cannot be installed here (needs root and apt-get)")
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        subprocess.run(command, check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
