"""The HTTP contract: authkit answers what the NestJS app answered, except where
reference/DEVIATIONS.md says otherwise.

authkit runs under uvicorn on a real database with a known JWT_SECRET; the vendored
probe (reference/contract_probe.py) records its answers; reference/contract_md.py's
`diff()` compares them with reference/contract.json. The differing lines must be
exactly the deviations written out below, no more and no fewer: a new difference
fails with the whole diff printed, and so does a deviation that silently went away.

AUTHKIT_CONTRACT_DIR points the test at another copy of the contract folder. The
probe output and the diff are kept under pytest's tmp dir (`pytest -s` prints where).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.processes import AppProcess

pytestmark = pytest.mark.e2e

REFERENCE_DIR = Path(
    os.environ.get("AUTHKIT_CONTRACT_DIR") or Path(__file__).resolve().parent / "reference"
)

UNAUTHORIZED = '{"message":"Unauthorized","statusCode":401}'
ME_OK = '{"_id":"<id>","username":"<prefix>json"}'
JSON_CT = "application/json; charset=utf-8"

# DEVIATIONS.md, as diff lines: each must appear, exactly so.
REQUIRED_DEVIATIONS = frozenset(
    {
        # Must differ: the reference is unsafe or broken here.
        "- signin_password_number: status: ref=500 new=401",
        "- signin_password_number: body: "
        f'ref={{"statusCode":500,"message":"Internal server error"}} new={UNAUTHORIZED}',
        "- me_no_exp_claim: status: ref=200 new=401",
        f"- me_no_exp_claim: body: ref={ME_OK} new={UNAUTHORIZED}",
        "- me_hs512_same_secret: status: ref=200 new=401",
        f"- me_hs512_same_secret: body: ref={ME_OK} new={UNAUTHORIZED}",
        # Issue #16: the upper-case spelling of a taken name is that name (one account) ...
        "- signup_duplicate_other_case: status: ref=201 new=409",
        f'- signup_duplicate_other_case: resp_content_type: ref= new="{JSON_CT}"',
        "- signup_duplicate_other_case: body: ref=(empty) "
        'new={"message":"User already exists","error":"Conflict","statusCode":409}',
        # ... and the probe's boundary password, Abcdefg1, is on the breached-passwords list.
        "- signup_boundary_min_4_8: status: ref=201 new=400",
        f'- signup_boundary_min_4_8: resp_content_type: ref= new="{JSON_CT}"',
        "- signup_boundary_min_4_8: body: ref=(empty) "
        'new={"message":["Password is too common: it is on a list of breached passwords"],'
        '"error":"Bad Request","statusCode":400}',
        # May differ; authkit's choices: /auth/me/ redirects to /auth/me (307, empty body) ...
        "- me_trailing_slash: status: ref=200 new=307",
        f'- me_trailing_slash: resp_content_type: ref="{JSON_CT}" new=',
        f"- me_trailing_slash: body: ref={ME_OK} new=(empty)",
        # ... and /AUTH/ME is an unknown path, answered with the NestJS 404 body.
        "- me_uppercase_path: status: ref=200 new=404",
        f"- me_uppercase_path: body: ref={ME_OK} "
        'new={"message":"Cannot GET /AUTH/ME","error":"Not Found","statusCode":404}',
    }
)
# May differ in the message only: 400, same shape, authkit's own words.
OWN_MESSAGE_CASES = ("signup_malformed_json", "signin_malformed_json")
# May differ by one field: a refreshToken beside the reference's accessToken (refresh
# tokens are on by default; AUTHKIT_REFRESH_TOKENS=off gives the reference body exactly).
REFRESH_TOKEN_CASES = ("signin_ok_json", "signin_ok_form")


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"contract_ref_{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def has_own_bad_request_shape(case: dict[str, Any]) -> bool:
    """400 in the NestJS shape, with a message of authkit's own (any non-empty text)."""
    body = case.get("body")
    return (
        case.get("status") == 400
        and case.get("resp_content_type") == JSON_CT
        and isinstance(body, dict)
        and list(body) == ["message", "error", "statusCode"]
        and isinstance(body["message"], str)
        and bool(body["message"])
        and (body["error"], body["statusCode"]) == ("Bad Request", 400)
    )


def has_reference_body_plus_refresh_token(case: dict[str, Any]) -> bool:
    """201 `{"accessToken": <jwt>, "refreshToken": <43 base64url characters>}`, in that order."""
    body = case.get("body")
    return (
        case.get("status") == 201
        and isinstance(body, dict)
        and list(body) == ["accessToken", "refreshToken"]
        and body["accessToken"] == "<jwt>"
        and isinstance(body["refreshToken"], str)
        and re.fullmatch(r"[A-Za-z0-9_-]{43}", body["refreshToken"]) is not None
    )


def probe(base_url: str, secret: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(REFERENCE_DIR / "contract_probe.py"), base_url, "--secret", secret],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_answers_match_the_nestjs_contract_except_the_documented_deviations(
    app_server: AppProcess, jwt_secret: str, tmp_path: Path
) -> None:
    contract_md = load_module(REFERENCE_DIR / "contract_md.py")
    reference = json.loads((REFERENCE_DIR / "contract.json").read_text("utf-8"))

    ours = probe(app_server.base_url, jwt_secret, tmp_path)
    lines: list[str] = contract_md.diff(reference, ours)

    ours_file, diff_file = tmp_path / "ours.json", tmp_path / "contract.diff"
    ours_file.write_text(json.dumps(ours, indent=2, ensure_ascii=False) + "\n", "utf-8")
    diff_file.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"\ncontract: {len(lines)} differing line(s); probe output {ours_file}, diff {diff_file}")
    print("\n".join(lines))

    cases = {case["case"]: case for case in ours["cases"]}
    own_message_lines = {
        line
        for name in OWN_MESSAGE_CASES
        if has_own_bad_request_shape(cases.get(name, {}))
        for line in lines
        if line.startswith(f"- {name}: body: ")
    }
    refresh_token_lines = {
        line
        for name in REFRESH_TOKEN_CASES
        if has_reference_body_plus_refresh_token(cases.get(name, {}))
        for line in lines
        if line.startswith(f"- {name}: body: ")
    }
    allowed = REQUIRED_DEVIATIONS | own_message_lines | refresh_token_lines
    unexpected = sorted(set(lines) - allowed)
    missing = sorted(REQUIRED_DEVIATIONS - set(lines))
    assert not unexpected and not missing, (
        "the contract diff is not the documented set of deviations\n"
        + "".join(f"unexpected {line}\n" for line in unexpected)
        + "".join(f"missing    {line}\n" for line in missing)
        + "full diff:\n"
        + "\n".join(lines)
    )

    # The redirect the probe records as a bare 307 goes to the canonical path.
    redirect = httpx.get(app_server.base_url + "/auth/me/", follow_redirects=False, timeout=15)
    assert redirect.status_code == 307
    assert urlsplit(redirect.headers["location"]).path == "/auth/me"
