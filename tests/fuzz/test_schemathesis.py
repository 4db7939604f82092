"""Schemathesis fuzzes a real authkit (uvicorn + SecantusDB) from its own /openapi.json.

Every generated request, valid or hostile, must get an answer that is not a 5xx and
that matches the document: status, content type, headers and body schema. The tox
environment `fuzz` runs it (schemathesis is installed there only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from authkit.storage.embedded import EmbeddedMongo, free_port

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "authkit exited before answering"
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds:.0f} s")


def test_no_generated_request_breaks_the_service_or_its_schema(tmp_path: Path) -> None:
    schemathesis = shutil.which("schemathesis")
    if schemathesis is None:
        pytest.skip("schemathesis is not installed (run `tox -e fuzz`)")
    port = free_port()
    with EmbeddedMongo() as database, (tmp_path / "server.log").open("wb") as server_log:
        env = {
            **os.environ,
            "MONGO_URI": database.uri,
            "JWT_SECRET": "fuzz-secret-0123456789abcdef0123456789",
            "BCRYPT_ROUNDS": "4",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "authkit.asgi:app", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base + "/openapi.json", server)
            run = subprocess.run(
                [
                    schemathesis,
                    "run",
                    base + "/openapi.json",
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    os.environ.get("AUTHKIT_FUZZ_EXAMPLES", "150"),
                    "--workers",
                    "1",
                    "--seed",
                    os.environ.get("AUTHKIT_FUZZ_SEED", "20261126"),
                ],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=tmp_path,
            )
        finally:
            server.terminate()
            server.wait(15)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Traceback" not in log, log[-4000:]
