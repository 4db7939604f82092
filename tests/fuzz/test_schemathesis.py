"""Schemathesis fuzzes a real authkit (uvicorn + SecantusDB) from its own /openapi.json.

Every generated request, valid or hostile, must get an answer that is not a 5xx and
that matches the document: status, content type, headers and body schema. The tox
environment `fuzz` runs it (schemathesis is installed there only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from support.processes import UVICORN_ARGS, Launcher, run_python

from authkit.storage.embedded import EmbeddedMongo

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


def _schemathesis_or_skip() -> str:
    found = shutil.which("schemathesis")
    if found is None:
        pytest.skip("schemathesis is not installed (run `tox -e fuzz`)")
    return found


def _server_env(database: EmbeddedMongo, **more: str) -> dict[str, str]:
    # The launcher's environment has no AUTHKIT_* variable: AUTHKIT_FUZZ_EXAMPLES and
    # AUTHKIT_FUZZ_SEED are this test's, and authkit refuses to start on unknown ones.
    secret = "fuzz-secret-0123456789abcdef0123456789"
    return {"MONGO_URI": database.uri, "JWT_SECRET": secret, "BCRYPT_ROUNDS": "4", **more}


def test_no_generated_request_breaks_the_service_or_its_schema(tmp_path: Path) -> None:
    schemathesis = _schemathesis_or_skip()
    with EmbeddedMongo() as database, Launcher(tmp_path) as launch:
        # Without a public URL the routes that mail links answer 503 by design (docs/accounts.md).
        env = _server_env(database, AUTHKIT_PUBLIC_URL="https://auth.example.test")
        server = launch(UVICORN_ARGS, env)
        run = _schemathesis(schemathesis, server.base_url, tmp_path)
    _assert_clean(run, server.stderr())


def test_an_administrators_requests_get_documented_answers(tmp_path: Path) -> None:
    """The /auth/admin routes behind their guard: as an administrator, so that generated
    ids, pages, roles and passwords reach the code instead of the 401."""
    schemathesis = _schemathesis_or_skip()
    with EmbeddedMongo() as database, Launcher(tmp_path) as launch:
        env = _server_env(database, JWT_EXPIRES_IN="1h")
        made = run_python(
            ["-m", "authkit", "create-user", "root", "--role", "admin", "--password-stdin"],
            env,
            tmp_path,
            stdin="Passw0rd!x\n",
        )
        assert made[0] == 0, made[2]
        server = launch(UVICORN_ARGS, env)
        signin = httpx.post(
            server.base_url + "/auth/signin", json={"username": "root", "password": "Passw0rd!x"}
        )
        token = signin.json()["accessToken"]
        only_admin = ["--header", f"Authorization: Bearer {token}"]
        only_admin += ["--include-path-regex", "^/auth/admin"]
        run = _schemathesis(schemathesis, server.base_url, tmp_path, only_admin)
    _assert_clean(run, server.stderr())


def _schemathesis(
    schemathesis: str, base_url: str, cwd: Path, more: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """One schemathesis run over the served /openapi.json, as AUTHKIT_FUZZ_* say."""
    return subprocess.run(
        [
            schemathesis,
            "run",
            base_url + "/openapi.json",
            *(more or []),
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
        cwd=cwd,
    )


def _assert_clean(run: subprocess.CompletedProcess[str], log: str) -> None:
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Traceback" not in log, log[-4000:]
