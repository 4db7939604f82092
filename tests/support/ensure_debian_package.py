"""Install a Debian package when its program is missing, for the test envs that need one
(`tox -e browser`: chromium; `tox -e scaleout`: nginx), run from their commands_pre.

    python tests/support/ensure_debian_package.py /usr/bin/chromium chromium
    python tests/support/ensure_debian_package.py /usr/sbin/nginx nginx

A test tool's own download (Playwright's browser) cannot work on machines that reach only
the package registries, so the tests use the distribution's programs. Without root or
apt-get, say so and leave the tests to skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def install_when_missing(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: ensure_debian_package.py PROGRAM PACKAGE", file=sys.stderr)
        return 2
    program, package = argv
    if os.path.exists(program) or shutil.which(os.path.basename(program)):
        return 0
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"{program} is missing and cannot be installed here (needs root and apt-get)")
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        subprocess.run(command, check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(install_when_missing(sys.argv[1:]))
