"""A person's path through GET /account in headless Chromium, against a real authkit process
and database, with Chrome's virtual authenticator (DevTools protocol: `WebAuthn.enable`,
`WebAuthn.addVirtualAuthenticator`, CTAP2, internal transport, resident keys, user
verification) standing in for a phone or a laptop's fingerprint reader:

- sign up and sign in (API: a session elsewhere), sign in with the password on /account,
  register a passkey, rename it;
- sign out, sign in with the passkey alone (no username), /auth/me answers;
- sign out, sign in with the password: the page asks for the second factor, and the
  passkey completes it;
- turn TOTP on through the page: the test reads the key the page shows and computes the
  code with pyotp, as an authenticator app would; the page shows ten recovery codes;
- sign out, sign in with the password and one of those recovery codes;
- end the session elsewhere;
- delete the passkey with a sign-in ten minutes old: the page asks for a fresh proof
  (step-up), and the passkey gives it.

The page loads nothing from elsewhere and logs no error (a script its Content-Security-
Policy blocked would). A screenshot of the page after TOTP enrolment is saved to
$AUTHKIT_ARTIFACTS (default: .artifacts/ in the checkout) as account-page.png.

WebAuthn needs a secure context and a domain as RP id, not an IP address: the page is
opened as http://localhost:<port> (the server listens on 127.0.0.1 only).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from support import browser
from support.browser import CHROMIUM, artifacts_dir, playwright_or_skip
from support.processes import UVICORN_ARGS, Launcher, free_port

from authkit.storage.embedded import EmbeddedMongo
from authkit.tokens.issuer import TokenIssuer

FLAGS = [
    *browser.FLAGS,
    # localhost is the loopback interface the server listens on, and nothing else.
    "--host-resolver-rules=MAP localhost 127.0.0.1",
]
USERNAME = "browser-pk"
PASSWORD = "browser-pass-1"
WAIT_MS = 15000
JWT_SECRET = "browser-secret-0123456789abcdef0123456"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("account-browser")
    port = free_port()
    origin = f"http://localhost:{port}"
    with EmbeddedMongo() as database, Launcher(workdir) as launch:
        env = {
            "MONGO_URI": database.uri,
            "JWT_SECRET": JWT_SECRET,
            "BCRYPT_ROUNDS": "4",
            "AUTHKIT_WEBAUTHN_RP_ID": "localhost",
            "AUTHKIT_WEBAUTHN_ORIGINS": origin,
        }
        served = launch(UVICORN_ARGS, env, port=port).base_url
        signup = httpx.post(
            served + "/auth/signup", json={"username": USERNAME, "password": PASSWORD}, timeout=15
        )
        assert signup.status_code == 201, signup.text
        # A sign-in elsewhere (another device, say), which the page lists and can end.
        elsewhere = httpx.post(
            served + "/auth/signin", json={"username": USERNAME, "password": PASSWORD}, timeout=15
        )
        assert elsewhere.status_code == 201, elsewhere.text
        yield origin


def _visible(page: Any, selector: str) -> None:
    page.locator(selector).wait_for(state="visible", timeout=WAIT_MS)


def _sign_in_with_password(page: Any) -> None:
    page.fill("#signin-username", USERNAME)
    page.fill("#signin-password", PASSWORD)
    page.click("#signin-submit")


def _sign_out(page: Any) -> None:
    page.click("#signout")
    _visible(page, "#signin-panel")


def _me(page: Any) -> Any:
    return page.evaluate(
        """async () => {
            const token = sessionStorage.getItem("authkit.account.accessToken");
            const answer = await fetch("/auth/me", {headers: {Authorization: "Bearer " + token}});
            return {status: answer.status, body: await answer.json()};
        }"""
    )


def test_passkeys_and_totp_through_the_account_page(base_url: str) -> None:
    sync_api = playwright_or_skip()
    artifacts = artifacts_dir()
    requests_elsewhere: list[str] = []
    console_errors: list[str] = []
    refused: list[tuple[str, str, int]] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1000, "height": 1400})
        page = context.new_page()
        page.on(
            "request",
            lambda r: None if r.url.startswith(base_url) else requests_elsewhere.append(r.url),
        )
        # A script, style or image the Content-Security-Policy blocked shows up here; an
        # answer of 4xx too ("Failed to load resource"), which `refused` checks instead.
        page.on(
            "console",
            lambda m: (
                console_errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                refused.append((r.request.method, r.url.split("/")[-2], r.status))
                if r.status >= 400
                else None
            ),
        )
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

        # Password sign-in, then a passkey registered and renamed.
        page.goto(base_url + "/account")
        _visible(page, "#signin-panel")
        _sign_in_with_password(page)
        _visible(page, "#account-panel")
        assert page.inner_text("#who") == USERNAME
        page.fill("#passkey-name", "Virtual key")
        page.click("#passkey-add")
        page.locator("#passkeys li", has_text="Virtual key").wait_for(timeout=WAIT_MS)
        page.once("dialog", lambda dialog: dialog.accept("Test laptop"))
        page.locator("#passkeys li button", has_text="Rename").click()
        page.locator("#passkeys li", has_text="Test laptop").wait_for(timeout=WAIT_MS)
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert [c["isResidentCredential"] for c in stored["credentials"]] == [True]

        # The passkey alone: no username typed.
        _sign_out(page)
        page.click("#signin-passkey")
        _visible(page, "#account-panel")
        assert page.inner_text("#who") == USERNAME
        me = _me(page)
        assert (me["status"], me["body"]["username"]) == (200, USERNAME)

        # The password now asks for a second factor, and the passkey gives it.
        _sign_out(page)
        _sign_in_with_password(page)
        _visible(page, "#mfa-panel")
        _visible(page, "#mfa-passkey")
        page.click("#mfa-passkey")
        _visible(page, "#account-panel")
        assert _me(page)["status"] == 200

        # TOTP through the page, as an authenticator app would.
        page.click("#totp-enrol")
        _visible(page, "#totp-secret")
        secret = page.inner_text("#totp-secret").strip()
        assert page.get_attribute("#totp-qr", "src").startswith("data:image/svg+xml")
        page.fill("#totp-code", pyotp.TOTP(secret).now())
        page.click("#totp-confirm")
        page.locator("#recovery-codes li").nth(9).wait_for(timeout=WAIT_MS)
        codes = page.locator("#recovery-codes li").all_inner_texts()
        page.locator("#totp-state", has_text="On.").wait_for(timeout=WAIT_MS)
        page.locator("#sessions tr").first.wait_for(timeout=WAIT_MS)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "account-page.png"), full_page=True)

        # A recovery code completes a password sign-in too (and is then used up).
        _sign_out(page)
        _sign_in_with_password(page)
        _visible(page, "#mfa-form")
        page.fill("#mfa-code", codes[0])
        page.click("#mfa-submit")
        _visible(page, "#account-panel")
        page.locator("#recovery-state", has_text="9 left.").wait_for(timeout=WAIT_MS)

        # The page's sign-outs ended their sessions: this one and the API's are left.
        page.wait_for_function("() => document.querySelectorAll('#sessions tr').length === 2")
        page.locator("#sessions tr button", has_text="End").click()
        page.wait_for_function("() => document.querySelectorAll('#sessions tr').length === 1")
        assert page.inner_text("#sessions tr").endswith("this one")

        # Deleting the passkey with a sign-in ten minutes old: the page asks for a fresh
        # proof, and the passkey gives it.
        me = _me(page)["body"]
        stale = TokenIssuer(JWT_SECRET, 60).issue(
            user_id=me["_id"],
            username=USERNAME,
            claims={"token_version": 0, "auth_time": int(time.time()) - 600},
        )
        page.evaluate("t => sessionStorage.setItem('authkit.account.accessToken', t)", stale)
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#passkeys li button", has_text="Delete").click()
        _visible(page, "#step-up-panel")
        page.click("#step-up-passkey")
        page.wait_for_function("() => !document.querySelector('#passkeys li')")
        assert page.locator("#step-up-panel").is_hidden()
        browser.close()

    assert requests_elsewhere == []  # the page works offline: nothing fetched from elsewhere
    assert console_errors == []
    # The one refusal of the whole path: the delete that asked for a fresh proof.
    assert refused == [("DELETE", "passkeys", 401)]
