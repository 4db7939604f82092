"""A person signs in with their company's OpenID provider in headless Chromium: the front
end's "Sign in with Corp" button (which makes an RFC 7636 verifier with crypto.subtle and
keeps it in sessionStorage), authkit, the provider's real login and consent pages
(oidc-provider from npm, on loopback), authkit's callback, and back at the front end, whose
page exchanges the one-time code and the verifier by POST and shows /auth/me's username.

The front end is the test's own tiny page on another origin (CORS on for it). A screenshot
of the page it ends on is saved to $AUTHKIT_ARTIFACTS (default .artifacts/) as
social-signin.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from support.browser import CHROMIUM, FLAGS, artifacts_dir, playwright_or_skip
from support.oidc_fixture import OidcProvider, ProviderClient
from support.processes import UVICORN_ARGS, Launcher, free_port
from support.social import social_env
from support.static_site import StaticSite

from authkit.storage.embedded import EmbeddedMongo

# docs/social-login.md's code, as a single-page app runs it: a verifier kept in this tab's
# sessionStorage, its S256 challenge sent to authkit with the start.
START_PAGE = """<!doctype html><title>Corp app</title>
<button id="corp">Sign in with Corp</button>
<script>
const b64url = (bytes) => btoa(String.fromCharCode(...bytes))
  .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
document.getElementById("corp").onclick = async () => {{
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem("authkit_verifier", verifier);
  location.assign("{start}?" + new URLSearchParams({{
    redirect_to: "{target}",
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  }}));
}};
</script>"""

# What a single-page app does on its return page: the code from the URL and the verifier
# from sessionStorage, exchanged by POST (so no token is ever in a URL), then the access
# token used.
SIGNED_IN_PAGE = """<!doctype html><title>Signed in?</title>
<p>exchange: <span id="exchange">...</span>, me: <span id="me">...</span></p>
<p>signed in as <strong id="username"></strong><span id="error"></span></p>
<script>
(async () => {{
  const params = new URLSearchParams(location.search);
  if (!params.has("code")) {{
    document.getElementById("error").textContent = params.get("error") || "no code";
    return;
  }}
  history.replaceState(null, "", location.pathname);  // the code leaves the address bar
  const verifier = sessionStorage.getItem("authkit_verifier");
  sessionStorage.removeItem("authkit_verifier");  // one flow, one verifier
  const exchanged = await fetch("{authkit}/auth/oauth/exchange", {{
    method: "POST",
    headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{code: params.get("code"), code_verifier: verifier}}),
  }});
  document.getElementById("exchange").textContent = exchanged.status;
  const {{accessToken}} = await exchanged.json();
  const me = await fetch("{authkit}/auth/me", {{
    headers: {{Authorization: "Bearer " + accessToken}},
  }});
  document.getElementById("me").textContent = me.status;
  document.getElementById("username").textContent = (await me.json()).username;
}})();
</script>"""


def _origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


@attrs.frozen
class Stack:
    front_end: StaticSite
    authkit: str
    provider: OidcProvider


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("social-browser")
    port = free_port()
    authkit = f"http://127.0.0.1:{port}"
    client = ProviderClient(
        "authkit-browser",
        "authkit-browser-secret-0123456789",
        (f"{authkit}/auth/oauth/corp/callback",),
    )
    pages: dict[str, str] = {}
    with (
        StaticSite(pages) as site,
        OidcProvider(workdir, [client]) as provider,
        EmbeddedMongo() as database,
        Launcher(workdir) as launch,
    ):
        target = site.url("/app/signed-in")
        pages["/app/"] = START_PAGE.format(start=f"{authkit}/auth/oauth/corp", target=target)
        pages["/app/signed-in"] = SIGNED_IN_PAGE.format(authkit=authkit)
        env = {
            "MONGO_URI": database.uri,
            "JWT_SECRET": "browser-secret-0123456789abcdef0123456",
            "BCRYPT_ROUNDS": "4",
            "AUTHKIT_CORS_ORIGINS": site.base_url,
            **social_env(provider, client, authkit, target),
        }
        launch(UVICORN_ARGS, env, port=port)
        yield Stack(site, authkit, provider)


def test_sign_in_with_the_company_provider_in_chromium(stack: Stack) -> None:
    sync_api = playwright_or_skip()
    artifacts = artifacts_dir()
    navigations: list[str] = []
    exchanges: list[Any] = []
    console_errors: list[str] = []
    origins = {stack.front_end.base_url, stack.authkit, stack.provider.issuer}
    # oidc-provider's development pages link a web font; the tests reach only loopback, so
    # every request elsewhere is refused here and must come from the provider's pages.
    offsite: list[tuple[str, str]] = []

    def on_loopback_only(route: Any) -> None:
        request = route.request
        if _origin(request.url) in origins:
            route.continue_()
        else:
            offsite.append((request.frame.url, request.url))
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.on("request", lambda r: navigations.append(r.url))
        page.on("response", lambda r: exchanges.append((r.request.method, r.url, r.status)))
        page.on(
            "console",
            lambda m: (
                console_errors.append(m.text)
                if m.type == "error" and _origin(m.location.get("url", "")) in origins
                else None
            ),
        )
        page.route("**/*", on_loopback_only)

        page.goto(stack.front_end.url("/app/"))
        page.click("#corp")
        page.wait_for_url(stack.provider.issuer + "/interaction/**")
        page.fill("input[name=login]", "chromium-user")
        page.fill("input[name=password]", "any password")
        page.click("button[type=submit]")
        # The consent page, oidc-provider's own.
        page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
        page.click("button[type=submit]")
        page.wait_for_url(stack.front_end.url("/app/signed-in") + "*")
        page.wait_for_function(
            "document.getElementById('username').textContent"
            " || document.getElementById('error').textContent",
            timeout=15000,
        )
        shown = {
            name: page.locator(f"#{name}").inner_text()
            for name in ("exchange", "me", "username", "error")
        }
        page.screenshot(path=str(artifacts / "social-signin.png"))
        browser.close()

    print("\n".join(f"{m} {u} -> {s}" for m, u, s in exchanges))
    assert shown["error"] == "", shown
    assert (shown["exchange"], shown["me"]) == ("201", "200")
    assert shown["username"]
    # Every request stayed on the three loopback origins but the provider's pages' font,
    # and no token was in any URL.
    assert {_origin(url) for url in navigations} <= origins | {_origin(u) for _, u in offsite}
    assert [page for page, _ in offsite if _origin(page) != stack.provider.issuer] == []
    assert not [url for url in navigations if "eyJ" in url]
    # The start carried the page's challenge; its verifier went only in the exchange's body.
    started = [u for u in navigations if u.startswith(stack.authkit + "/auth/oauth/corp?")]
    assert len(started) == 1 and "code_challenge_method=S256" in started[0], started
    assert "code_verifier" not in " ".join(navigations)
    assert console_errors == []
