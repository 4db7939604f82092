"""GET /docs and its assets (TestClient, mongomock); the browser drives it in
tests/browser/test_docs_page_browser.py."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import mongomock
import pytest
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import create_app


@pytest.fixture
def client() -> Any:
    settings = make_settings("d" * 40)
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        yield client


def test_the_page_loads_only_assets_authkit_serves_itself(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/static/") for s in sources)
    assert "http://" not in page.text and "https://" not in page.text
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source


def test_the_document_it_renders_names_each_operation(client: Any) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.0")  # what the bundled Swagger UI renders
    operations = {
        op["operationId"]: (path, method)
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert operations == {
        "signUp": ("/auth/signup", "post"),
        "signIn": ("/auth/signin", "post"),
        "getMe": ("/auth/me", "get"),
        "refresh": ("/auth/refresh", "post"),
        "signOut": ("/auth/signout", "post"),
        "signOutAll": ("/auth/signout-all", "post"),
        "listSessions": ("/auth/sessions", "get"),
        "revokeSession": ("/auth/sessions/{session_id}", "delete"),
        "getJwks": ("/.well-known/jwks.json", "get"),
        "getMFA": ("/auth/mfa", "get"),
        "enrolTOTP": ("/auth/mfa/totp", "post"),
        "disableTOTP": ("/auth/mfa/totp", "delete"),
        "confirmTOTP": ("/auth/mfa/totp/confirm", "post"),
        "regenerateRecoveryCodes": ("/auth/mfa/recovery-codes", "post"),
        "verifyMFA": ("/auth/mfa/verify", "post"),
        "stepUp": ("/auth/step-up", "post"),
        "getEmail": ("/auth/email", "get"),
        "setEmail": ("/auth/email", "post"),
        "resendVerification": ("/auth/email/verification", "post"),
        "verifyEmailPage": ("/auth/email/verify", "get"),
        "verifyEmail": ("/auth/email/verify", "post"),
        "forgotPassword": ("/auth/password/forgot", "post"),
        "resetPasswordPage": ("/auth/password/reset", "get"),
        "resetPassword": ("/auth/password/reset", "post"),
        "changePassword": ("/auth/password/change", "post"),
        "deleteAccount": ("/auth/account", "delete"),
        "passkeyRegistrationOptions": ("/auth/passkeys/register/options", "post"),
        "registerPasskey": ("/auth/passkeys/register", "post"),
        "listPasskeys": ("/auth/passkeys", "get"),
        "renamePasskey": ("/auth/passkeys/{passkey_id}", "patch"),
        "deletePasskey": ("/auth/passkeys/{passkey_id}", "delete"),
        "passkeySigninOptions": ("/auth/passkeys/signin/options", "post"),
        "passkeySignIn": ("/auth/passkeys/signin", "post"),
        "passkeyStepUpOptions": ("/auth/passkeys/step-up/options", "post"),
        "passkeyStepUp": ("/auth/passkeys/step-up", "post"),
        "adminListUsers": ("/auth/admin/users", "get"),
        "adminCreateUser": ("/auth/admin/users", "post"),
        "adminGetUser": ("/auth/admin/users/{user_id}", "get"),
        "adminDisableUser": ("/auth/admin/users/{user_id}/disable", "post"),
        "adminEnableUser": ("/auth/admin/users/{user_id}/enable", "post"),
        "adminSetRoles": ("/auth/admin/users/{user_id}/roles", "put"),
        "adminUnlockUser": ("/auth/admin/users/{user_id}/unlock", "post"),
        "adminSignOutUser": ("/auth/admin/users/{user_id}/signout-all", "post"),
        "adminSetPassword": ("/auth/admin/users/{user_id}/password", "put"),
    }
    assert document["paths"]["/auth/me"]["get"]["security"] == [{"jwt": []}]
    for path in ("/auth/signout", "/auth/signout-all"):
        assert document["paths"][path]["post"]["security"] == [{"jwt": []}]
    assert "security" not in document["paths"]["/auth/refresh"]["post"]
    assert document["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"


@pytest.mark.parametrize(
    "name",
    [
        "index.html",  # Swagger UI's stock page: it loads the petstore demo from the internet
        "swagger-initializer.js",
        "oauth2-redirect.html",
        "swagger-ui.js",
        "swagger-ui-bundle.js.map",
        "index.j2",
    ],
)
def test_nothing_of_the_bundle_but_what_the_page_uses_is_served(client: Any, name: str) -> None:
    answer = client.get(f"/docs/static/{name}")
    assert answer.status_code == 404
    assert answer.json()["message"] == f"Cannot GET /docs/static/{name}"


def test_the_page_runs_only_its_own_scripts_and_cannot_be_framed(client: Any) -> None:
    page = client.get("/docs")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"
    # The one inline script (Swagger UI's set-up) is allowed by its hash, and no other.
    (inline,) = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
