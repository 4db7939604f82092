"""A person's path through GET /docs in headless Chromium: sign up, sign in and call
/auth/me with "Try it out", against a real authkit process and database.

A screenshot of the page after the last call is saved to $AUTHKIT_ARTIFACTS
(default: .artifacts/ in the checkout) as docs-page.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.browser import CHROMIUM, FLAGS, artifacts_dir, playwright_or_skip
from support.processes import UVICORN_ARGS, Launcher

from authkit.storage.embedded import EmbeddedMongo


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The launcher's environment has no AUTHKIT_* variable (AUTHKIT_ARTIFACTS is this
    # test's, and authkit refuses to start on unknown ones); its logs stay in workdir.
    workdir = tmp_path_factory.mktemp("browser")
    with EmbeddedMongo() as database, Launcher(workdir) as launch:
        env = {
            "MONGO_URI": database.uri,
            "JWT_SECRET": "browser-secret-0123456789abcdef0123456",
            "BCRYPT_ROUNDS": "4",
        }
        yield launch(UVICORN_ARGS, env).base_url


def _try_it_out(page: Any, operation: str, body: str | None = None) -> tuple[str, str]:
    block = page.locator(f"#operations-auth-{operation}")
    block.locator(".opblock-summary").first.click()
    block.locator(".try-out__btn").click()
    if body is not None:
        block.locator("textarea.body-param__text").fill(body)
    block.locator(".execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=15000)
    text = block.locator(".live-responses-table").first.inner_text()
    return status.inner_text().strip(), text


def test_sign_up_sign_in_and_me_through_the_docs_page(base_url: str) -> None:
    sync_api = playwright_or_skip()
    artifacts = artifacts_dir()
    requests_elsewhere: list[str] = []
    console_errors: list[str] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.on(
            "request",
            lambda r: None if r.url.startswith(base_url) else requests_elsewhere.append(r.url),
        )
        # A script, style or image the page's Content-Security-Policy blocks shows up here.
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(base_url + "/docs")
        page.locator("#operations-auth-signUp").wait_for(timeout=15000)

        credentials = '{"username": "browser-user", "password": "browser-pass-1"}'
        signup_status, _ = _try_it_out(page, "signUp", credentials)
        signin_status, signin_body = _try_it_out(page, "signIn", credentials)
        found = re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", signin_body)
        assert found, signin_body
        token = found.group(0)

        page.locator(".auth-wrapper .authorize").click()
        page.locator(".modal-ux input").first.fill(token)
        page.locator(".modal-ux .auth-btn-wrapper .authorize").click()
        page.locator(".modal-ux .btn-done").click()
        me_status, me_body = _try_it_out(page, "getMe")

        for finished in ("signUp", "signIn"):  # fold them, so the picture shows the last call
            page.locator(f"#operations-auth-{finished} .opblock-summary").first.click()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "docs-page.png"), full_page=False)
        browser.close()

    assert (signup_status, signin_status, me_status) == ("201", "201", "200")
    assert '"username": "browser-user"' in me_body
    assert requests_elsewhere == []  # the page works offline: nothing fetched from elsewhere
    assert console_errors == []
