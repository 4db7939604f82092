"""tox's inline plugin: let tox find every Python that pyenv has installed.

pyenv's shims answer only for the versions selected (usually one global
version), so `python3.10` fails even when pyenv has 3.10 installed and tox
would skip py310. Selecting every installed version for this process makes
each `python3.X` shim resolve (tox.ini passes PYENV_VERSION on to the
interpreter discovery); machines without pyenv are left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from tox.config.sets import CoreConfigSet
from tox.plugin import impl
from tox.session.state import State


@impl
def tox_add_core_config(core_conf: CoreConfigSet, state: State) -> None:
    pyenv = shutil.which("pyenv")
    if pyenv is None or os.environ.get("PYENV_VERSION"):
        return
    found = subprocess.run(  # noqa: S603 - fixed argv
        [pyenv, "versions", "--bare", "--skip-aliases"],
        capture_output=True,
        text=True,
        check=False,
    )
    versions = [v for v in found.stdout.split() if v[:1].isdigit()]
    if found.returncode == 0 and versions:
        os.environ["PYENV_VERSION"] = ":".join(versions)
