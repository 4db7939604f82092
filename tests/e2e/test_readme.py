"""README.md's "Using it" shell block, run as written against a live server: a reader who
pastes it into a shell gets a user, a token in $TOKEN and their profile, with no tool
beyond curl and python3. Only the port is changed, to the test server's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from support.processes import AppProcess, clean_environ

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

README = Path(__file__).resolve().parents[2] / "README.md"


def using_it_block() -> str:
    section = README.read_text("utf-8").split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "README.md's 'Using it' section has no sh block"
    return found[1]


def test_the_using_it_block_runs_as_written(app_server: AppProcess) -> None:
    script = using_it_block()
    assert "localhost:3000" in script and "TOKEN=" in script
    script = script.replace("localhost:3000", f"localhost:{app_server.port}")

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "HTTP/1.1 201 Created" in done.stdout, done.stdout
    assert re.search(r'\{"_id":"[0-9a-f]{24}","username":"alice"\}$', done.stdout), done.stdout
