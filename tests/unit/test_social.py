"""Social sign-in through the GitHub preset, against the GitHub-shaped fake (in process,
through httpx2's ASGI transport): state, linking rules, error mapping, the exchange code.

The same flow through real uvicorn processes: tests/e2e/test_social_github.py.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx2
import mongomock
import pytest
from support.github_fake import GitHubFake
from support.pkce import Pkce
from support.settings import make_settings

from authkit import create_app
from authkit.http.settings import ServerSettings
from authkit.passwords.settings import SigninLimits
from authkit.passwords.throttle import Limit
from authkit.sessions.settings import SessionSettings
from authkit.social.flows import ExchangeCodes
from authkit.social.oidc import GoogleProvider
from authkit.social.providers import ProviderOptions
from authkit.social.settings import OAuthSettings, ProviderConfig
from authkit.users.email_keys import VERIFIED_EMAIL_KEY
from authkit.users.emails import email_key

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

TARGET = "http://app.test/after-signin"
FAKE = "http://github.fake"
# The front end's verifier for the flows these tests start (tests/unit/test_social_pkce.py
# tests the binding itself).
PKCE = Pkce.new()


def settings_for(link_by_email: str = "off", per_address: Limit | None = None) -> Any:
    return make_settings(
        server=ServerSettings(public_url="http://testserver"),
        oauth=OAuthSettings(
            providers=("github",), redirect_targets=(TARGET,), link_by_email=link_by_email
        ),
        oauth_clients=(GitHubFake().client_config(FAKE),),
        signin_limits=SigninLimits(per_address=per_address or Limit(100, 900)),
    )


class World:
    """An authkit app, the fake GitHub, and a browser (a TestClient with its cookies)."""

    def __init__(
        self,
        settings: Any = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.fake = GitHubFake()
        self.db = mongomock.MongoClient().db
        options = ProviderOptions(
            timeout=timeout, transport=transport or httpx2.ASGITransport(app=self.fake.app)
        )
        self.app = create_app(settings or settings_for(), database=self.db, oauth_options=options)
        self.github = TestClient(self.fake.app, base_url=FAKE)

    def browser(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def start(self, browser: TestClient, target: str = TARGET, pkce: Pkce | None = PKCE) -> str:
        params = {"redirect_to": target, **(pkce.start_params if pkce else {})}
        answer = browser.get("/auth/oauth/github", params=params)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def consent(self, authorize_url: str) -> str:
        """The fake's authorize page, which redirects back at once: the callback URL."""
        parts = urlsplit(authorize_url)
        answer = self.github.get(f"{parts.path}?{parts.query}", follow_redirects=False)
        assert answer.status_code == 302
        return str(answer.headers["location"])

    def callback(self, browser: TestClient, url: str) -> httpx2.Response | Any:
        parts = urlsplit(url)
        return browser.get(f"{parts.path}?{parts.query}", follow_redirects=False)

    def sign_in(self, browser: TestClient, pkce: Pkce | None = PKCE) -> dict[str, list[str]]:
        answer = self.callback(browser, self.consent(self.start(browser, pkce=pkce)))
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["location"]).query)


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


def returned(answer: Any) -> tuple[str, dict[str, list[str]]]:
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    return f"{location.scheme}://{location.netloc}{location.path}", parse_qs(location.query)


def exchange(browser: TestClient, code: str, pkce: Pkce | None = PKCE) -> Any:
    body = pkce.exchange_body(code) if pkce else {"code": code}
    return browser.post("/auth/oauth/exchange", json=body)


def me(browser: TestClient, access: str) -> dict[str, Any]:
    answer = browser.get("/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_a_github_sign_in_ends_with_a_one_time_code_that_signs_in(world: World) -> None:
    browser = world.browser()
    authorize = world.start(browser)
    asked = parse_qs(urlsplit(authorize).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"][0]
    assert asked["redirect_uri"] == ["http://testserver/auth/oauth/github/callback"]
    assert asked["scope"] == ["read:user user:email"]
    cookie = browser.cookies.get("authkit_oauth_browser")
    assert cookie
    where, params = returned(world.callback(browser, world.consent(authorize)))
    assert where == TARGET and set(params) == {"code"}
    signed_in = exchange(browser, params["code"][0])
    assert signed_in.status_code == 201
    body = signed_in.json()
    assert set(body) == {"accessToken", "refreshToken"}
    user = me(browser, body["accessToken"])
    assert user["username"].startswith("octocat_")
    # The refresh token works too: a user with no password has sessions like any other.
    refreshed = browser.post("/auth/refresh", json={"refreshToken": body["refreshToken"]})
    assert refreshed.status_code == 200
    # No password: /auth/signin cannot be used as this user.
    refused = browser.post(
        "/auth/signin", json={"username": user["username"], "password": "x" * 10}
    )
    assert refused.status_code == 401


def test_the_same_github_account_signs_in_as_the_same_user(world: World) -> None:
    browser = world.browser()
    first = exchange(browser, world.sign_in(browser)["code"][0]).json()["accessToken"]
    # Renamed, another email: the identity is GitHub's numeric id, not the login or email.
    world.fake.user = {"id": 4242, "login": "renamed", "name": "R"}
    world.fake.emails = [{"email": "new@example.com", "primary": True, "verified": True}]
    second = exchange(browser, world.sign_in(browser)["code"][0]).json()["accessToken"]
    assert me(browser, first)["_id"] == me(browser, second)["_id"]
    world.fake.user = {"id": 7, "login": "octocat", "name": "Another"}
    third = exchange(browser, world.sign_in(browser)["code"][0]).json()["accessToken"]
    assert me(browser, third)["_id"] != me(browser, first)["_id"]


def test_two_flows_in_one_browser_both_finish_in_either_order(world: World) -> None:
    browser = world.browser()
    first, second = world.start(browser), world.start(browser)
    second_back, first_back = world.consent(second), world.consent(first)
    for url in (second_back, first_back):
        _, params = returned(world.callback(browser, url))
        assert set(params) == {"code"}
        assert exchange(browser, params["code"][0]).status_code == 201


def test_a_callback_opened_twice_signs_in_once(world: World) -> None:
    browser = world.browser()
    back = world.consent(world.start(browser))
    _, params = returned(world.callback(browser, back))
    assert "code" in params
    again = world.callback(browser, back)
    assert again.status_code == 400
    assert "invalid_state" in again.json()["message"]
    assert world.fake.token_requests == 1


def test_another_browser_cannot_finish_the_flow_and_does_not_spoil_it(world: World) -> None:
    victim, attacker = world.browser(), world.browser()
    back = world.consent(world.start(victim))
    where, params = returned(world.callback(attacker, back))
    assert where == TARGET
    assert params["error"] == ["invalid_state"] and "code" not in params
    assert world.fake.token_requests == 0
    # The browser that started it still can.
    _, params = returned(world.callback(victim, back))
    assert "code" in params


def test_a_callback_without_the_browser_cookie_is_refused(world: World) -> None:
    browser = world.browser()
    back = world.consent(world.start(browser))
    browser.cookies.clear()
    _, params = returned(world.callback(browser, back))
    assert params["error"] == ["invalid_state"]


def test_an_expired_flow_is_refused(world: World) -> None:
    browser = world.browser()
    back = world.consent(world.start(browser))
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    world.db["oauth_flows"].update_many({}, {"$set": {"expires": past}})
    answer = world.callback(browser, back)
    assert answer.status_code == 400
    assert "invalid_state" in answer.json()["message"]


def test_a_callback_with_no_or_a_made_up_state_is_a_400(world: World) -> None:
    browser = world.browser()
    assert browser.get("/auth/oauth/github/callback?code=x").status_code == 400
    made_up = browser.get("/auth/oauth/github/callback?code=x&state=" + "a" * 43)
    assert made_up.status_code == 400
    assert made_up.json()["statusCode"] == 400


def test_the_flow_state_is_stored_hashed_with_pkce_and_expiry(world: World) -> None:
    browser = world.browser()
    authorize = world.start(browser)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    (doc,) = list(world.db["oauth_flows"].find())
    assert state not in str(doc)
    assert doc["provider"] == "github" and doc["redirect_to"] == TARGET
    assert doc["code_verifier"] and doc["expires"]
    assert browser.cookies["authkit_oauth_browser"] not in str(doc)


def test_the_exchange_code_works_once(world: World) -> None:
    browser = world.browser()
    code = world.sign_in(browser)["code"][0]
    assert exchange(browser, code).status_code == 201
    again = exchange(browser, code)
    assert again.status_code == 400
    assert again.json()["message"] == "The code is unknown, used or expired"
    assert exchange(browser, "nonsense").status_code == 400
    assert browser.post("/auth/oauth/exchange", json={}).status_code == 400
    assert world.db["oauth_codes"].count_documents({}) == 0


def test_an_expired_exchange_code_is_refused(world: World) -> None:
    browser = world.browser()
    code = world.sign_in(browser)["code"][0]
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    world.db["oauth_codes"].update_many({}, {"$set": {"expires": past}})
    assert exchange(browser, code).status_code == 400


def test_of_exchanges_of_one_code_at_once_one_wins(world: World) -> None:
    browser = world.browser()
    code = world.sign_in(browser)["code"][0]
    codes = ExchangeCodes(world.db["oauth_codes"])

    async def race() -> list[Any]:
        return list(await asyncio.gather(*(codes.redeem(code) for _ in range(8))))

    results = asyncio.run(race())
    assert sum(r is not None for r in results) == 1


def test_unknown_provider_404_and_bad_targets_400(world: World) -> None:
    browser = world.browser()
    assert browser.get("/auth/oauth/gitlab", params={"redirect_to": TARGET}).status_code == 404
    assert browser.get("/auth/oauth/github").status_code == 400
    for bad in (
        "http://evil.test/after-signin",
        "http://app.test/other",
        "https://app.test/after-signin",
        "http://app.test:8080/after-signin",
        "javascript:alert(1)",
        "//evil.test/after-signin",
    ):
        assert browser.get("/auth/oauth/github", params={"redirect_to": bad}).status_code == 400
    # A query of its own is kept, beside what authkit adds.
    ok = browser.get(
        "/auth/oauth/github", params={"redirect_to": TARGET + "?tab=2", **PKCE.start_params}
    )
    assert ok.status_code == 302


def test_consent_denied_returns_access_denied(world: World) -> None:
    world.fake.mode = "deny"
    browser = world.browser()
    _, params = returned(world.callback(browser, world.consent(world.start(browser))))
    assert params["error"] == ["access_denied"] and params["error_description"]


@pytest.mark.parametrize(
    ("mode", "code"), [("garbage", "provider_error"), ("down", "provider_unavailable")]
)
def test_a_provider_that_misbehaves_is_an_error_redirect(
    world: World, mode: str, code: str
) -> None:
    browser = world.browser()
    back = world.consent(world.start(browser))
    world.fake.mode = mode
    _, params = returned(world.callback(browser, back))
    assert params["error"] == [code]


def test_a_refused_code_is_a_provider_error(world: World) -> None:
    browser = world.browser()
    back = world.consent(world.start(browser))
    world.fake.codes.clear()  # GitHub answers bad_verification_code
    _, params = returned(world.callback(browser, back))
    assert params["error"] == ["provider_error"]


def _unreachable(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def test_an_unreachable_provider_is_provider_unavailable() -> None:
    fake = GitHubFake()
    inner = httpx2.ASGITransport(app=fake.app)
    broken = {"now": False}

    class Switch(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if broken["now"]:
                raise httpx2.ConnectError("connection refused", request=request)
            return await inner.handle_async_request(request)

    world = World(transport=Switch())
    world.fake = fake
    world.github = TestClient(fake.app, base_url=FAKE)
    browser = world.browser()
    back = world.consent(world.start(browser))
    broken["now"] = True
    _, params = returned(world.callback(browser, back))
    assert params["error"] == ["provider_unavailable"]


def test_a_provider_that_hangs_is_provider_unavailable_within_the_timeout() -> None:
    fake = GitHubFake()
    inner = httpx2.ASGITransport(app=fake.app)
    hang = {"now": False}

    class Slow(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if hang["now"]:
                await asyncio.sleep(30)
            return await inner.handle_async_request(request)

    world = World(transport=Slow(), timeout=0.2)
    world.fake = fake
    world.github = TestClient(fake.app, base_url=FAKE)
    browser = world.browser()
    back = world.consent(world.start(browser))
    hang["now"] = True
    _, params = returned(world.callback(browser, back))
    assert params["error"] == ["provider_unavailable"]


def _local_user(world: World, username: str, **fields: Any) -> str:
    browser = world.browser()
    assert (
        browser.post(
            "/auth/signup", json={"username": username, "password": "Passw0rd!x"}
        ).status_code
        == 201
    )
    if "email" in fields:
        # As the accounts capability keeps an address: its key, and once verified the key
        # that makes it unique.
        fields["email_key"] = email_key(fields["email"])
        if fields.get("email_verified"):
            fields[VERIFIED_EMAIL_KEY] = fields["email_key"]
    world.db["users"].update_one({"username": username}, {"$set": fields})
    return str(world.db["users"].find_one({"username": username})["_id"])


def _signed_in_user(world: World) -> str:
    browser = world.browser()
    access = exchange(browser, world.sign_in(browser)["code"][0]).json()["accessToken"]
    return str(me(browser, access)["_id"])


def test_no_linking_by_email_unless_turned_on() -> None:
    world = World(settings_for(link_by_email="off"))
    alice = _local_user(world, "alice", email="octo@example.com", email_verified=True)
    assert _signed_in_user(world) != alice


def test_linking_by_email_needs_both_sides_verified() -> None:
    world = World(settings_for(link_by_email="verified"))
    alice = _local_user(world, "alice", email="octo@example.com", email_verified=True)
    assert _signed_in_user(world) == alice
    (identity,) = list(world.db["oauth_identities"].find())
    assert identity["user_id"] == alice and identity["subject"] == "4242"


def test_linking_by_email_is_blind_to_case_as_sign_up_uniqueness_is() -> None:
    world = World(settings_for(link_by_email="verified"))
    alice = _local_user(world, "alice", email="octo@example.com", email_verified=True)
    world.fake.emails = [{"email": "Octo@Example.COM", "primary": True, "verified": True}]
    assert _signed_in_user(world) == alice


def test_no_linking_when_the_local_address_is_unverified() -> None:
    world = World(settings_for(link_by_email="verified"))
    alice = _local_user(world, "alice", email="octo@example.com", email_verified=False)
    assert _signed_in_user(world) != alice


def test_no_linking_when_the_provider_has_not_verified_the_address() -> None:
    world = World(settings_for(link_by_email="verified"))
    alice = _local_user(world, "alice", email="octo@example.com", email_verified=True)
    world.fake.emails = [
        {"email": "octo@example.com", "primary": True, "verified": False},
        {"email": "other@example.com", "primary": False, "verified": True},
    ]
    assert _signed_in_user(world) != alice


def test_only_the_primary_verified_github_address_counts() -> None:
    world = World(settings_for(link_by_email="verified"))
    alice = _local_user(world, "alice", email="octo@example.com", email_verified=True)
    world.fake.emails = [
        {"email": "mine@example.com", "primary": True, "verified": True},
        {"email": "octo@example.com", "primary": False, "verified": True},
    ]
    assert _signed_in_user(world) != alice


def test_users_without_email_fields_are_never_linked_by_email() -> None:
    world = World(settings_for(link_by_email="verified"))
    alice = _local_user(world, "alice")
    assert _signed_in_user(world) != alice


def _password_sign_in(world: World, browser: TestClient, username: str) -> str:
    answer = browser.post("/auth/signin", json={"username": username, "password": "Passw0rd!x"})
    assert answer.status_code == 201
    token: str = answer.json()["accessToken"]
    return token


def _link(world: World, browser: TestClient, access: str) -> Any:
    answer = browser.post(
        "/auth/oauth/github/link",
        json={"redirect_to": TARGET},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert answer.status_code == 200, answer.text
    return world.callback(browser, world.consent(answer.json()["authorization_url"]))


def test_an_explicit_link_then_github_signs_in_as_that_user(world: World) -> None:
    alice = _local_user(world, "alice")
    browser = world.browser()
    access = _password_sign_in(world, browser, "alice")
    _, params = returned(_link(world, browser, access))
    assert params == {"linked": ["github"]}
    listed = browser.get("/auth/identities", headers={"Authorization": f"Bearer {access}"})
    assert listed.status_code == 200
    (identity,) = listed.json()
    assert identity["provider"] == "github" and identity["subject"] == "4242"
    assert identity["issuer"] == FAKE and identity["email"] == "octo@example.com"
    assert identity["linked_at"].endswith("Z")
    assert _signed_in_user(world) == alice
    # Alice has a password: the identity may go.
    gone = browser.delete("/auth/identities/github", headers={"Authorization": f"Bearer {access}"})
    assert gone.status_code == 204
    assert (
        browser.delete(
            "/auth/identities/github", headers={"Authorization": f"Bearer {access}"}
        ).status_code
        == 404
    )
    assert _signed_in_user(world) != alice


def test_a_link_flow_from_another_browser_is_refused(world: World) -> None:
    _local_user(world, "alice")
    attacker, victim = world.browser(), world.browser()
    access = _password_sign_in(world, attacker, "alice")
    answer = attacker.post(
        "/auth/oauth/github/link",
        json={"redirect_to": TARGET},
        headers={"Authorization": f"Bearer {access}"},
    )
    back = world.consent(answer.json()["authorization_url"])
    _, params = returned(world.callback(victim, back))
    assert params["error"] == ["invalid_state"]
    assert world.db["oauth_identities"].count_documents({}) == 0


def test_an_identity_of_another_user_cannot_be_linked(world: World) -> None:
    _signed_in_user(world)  # the GitHub account is someone's already
    _local_user(world, "alice")
    browser = world.browser()
    _, params = returned(_link(world, browser, _password_sign_in(world, browser, "alice")))
    assert params["error"] == ["identity_in_use"]


def test_the_last_way_to_sign_in_cannot_be_unlinked(world: World) -> None:
    browser = world.browser()
    access = exchange(browser, world.sign_in(browser)["code"][0]).json()["accessToken"]
    refused = browser.delete(
        "/auth/identities/github", headers={"Authorization": f"Bearer {access}"}
    )
    assert refused.status_code == 409
    assert world.db["oauth_identities"].count_documents({}) == 1


def test_identities_need_a_bearer(world: World) -> None:
    browser = world.browser()
    assert browser.get("/auth/identities").status_code == 401
    assert browser.delete("/auth/identities/github").status_code == 401
    assert browser.post("/auth/oauth/github/link", json={"redirect_to": TARGET}).status_code == 401


def test_failed_callbacks_count_against_the_address() -> None:
    world = World(settings_for(per_address=Limit(2, 900)))
    victim, attacker = world.browser(), world.browser()
    backs = [world.consent(world.start(victim)) for _ in range(3)]
    for back in backs[:2]:
        _, params = returned(world.callback(attacker, back))
        assert params["error"] == ["invalid_state"]
    _, params = returned(world.callback(attacker, backs[2]))
    assert params["error"] == ["too_many_attempts"]
    made_up = attacker.get("/auth/oauth/github/callback?code=x&state=" + "b" * 43)
    assert made_up.status_code == 429 and made_up.headers["retry-after"]


def test_the_openapi_document_lists_the_social_routes(world: World) -> None:
    document = world.browser().get("/openapi.json").json()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {
        "startSocialSignIn",
        "socialCallback",
        "exchangeSocialCode",
        "linkSocialIdentity",
        "listIdentities",
        "unlinkIdentity",
    } <= operations


def test_without_providers_there_are_no_social_routes() -> None:
    app = create_app(make_settings(), database=mongomock.MongoClient().db)
    browser = TestClient(app)
    assert browser.get("/auth/oauth/github", params={"redirect_to": TARGET}).status_code == 404
    assert browser.get("/auth/identities").status_code == 404


def test_an_iss_parameter_from_another_host_is_refused(world: World) -> None:
    browser = world.browser()
    back = world.consent(world.start(browser))
    _, params = returned(world.callback(browser, back + "&iss=https%3A%2F%2Fevil.test"))
    assert params["error"] == ["provider_error"]
    back = world.consent(world.start(browser))
    _, params = returned(world.callback(browser, back + "&iss=" + FAKE + "%2Flogin%2Foauth"))
    assert "code" in params


def test_the_google_preset_is_oidc_at_googles_issuer() -> None:
    config = ProviderConfig(name="google", kind="google", client_id="x.apps.googleusercontent.com")
    provider = GoogleProvider(config, ProviderOptions())
    assert provider.issuer == "https://accounts.google.com" and provider.uses_nonce
    registration = provider.registration()
    assert registration["server_metadata_url"] == (
        "https://accounts.google.com/.well-known/openid-configuration"
    )
    assert registration["client_kwargs"]["scope"] == "openid email profile"


def test_cookie_mode_exchange_sets_the_refresh_cookie() -> None:
    world = World(attrs.evolve(settings_for(), sessions=SessionSettings(refresh_tokens="cookie")))
    browser = world.browser()
    code = world.sign_in(browser)["code"][0]
    answer = exchange(browser, code)
    assert answer.status_code == 201 and set(answer.json()) == {"accessToken"}
    assert "authkit_refresh=" in answer.headers["set-cookie"]
    assert answer.headers["cache-control"] == "no-store"


def test_security_events_name_the_outcome_and_no_secret(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="authkit.security")
    browser = world.browser()
    authorize = world.start(browser)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    back = world.consent(authorize)
    provider_code = parse_qs(urlsplit(back).query)["code"][0]
    _, params = returned(world.callback(browser, back))
    world.callback(world.browser(), back)
    events = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert {"oauth_started", "oauth_user_created", "oauth_signin", "oauth_failed"} <= set(events)
    text = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    for secret in (
        state,
        provider_code,
        params["code"][0],
        browser.cookies["authkit_oauth_browser"],
    ):
        assert secret not in text


def test_unfinished_flows_per_address_are_limited() -> None:
    settings = settings_for()
    world = World(attrs.evolve(settings, oauth=attrs.evolve(settings.oauth, starts_per_address=2)))
    browser = world.browser()
    first, _ = world.start(browser), world.start(browser)
    third = {"redirect_to": TARGET, **PKCE.start_params}
    _, params = returned(browser.get("/auth/oauth/github", params=third))
    assert params["error"] == ["too_many_attempts"]
    # A finished flow makes room again.
    _, params = returned(world.callback(browser, world.consent(first)))
    assert "code" in params
    assert world.start(browser).startswith(FAKE)


def test_social_sign_in_does_not_skip_a_second_factor(world: World) -> None:
    import pyotp

    _local_user(world, "alice")
    browser = world.browser()
    access = _password_sign_in(world, browser, "alice")
    auth = {"Authorization": f"Bearer {access}"}
    secret = browser.post("/auth/mfa/totp", headers=auth).json()["secret"]
    confirm = {"code": pyotp.TOTP(secret).now()}
    assert browser.post("/auth/mfa/totp/confirm", json=confirm, headers=auth).status_code == 200
    _, params = returned(_link(world, browser, access))
    assert params == {"linked": ["github"]}
    answer = exchange(browser, world.sign_in(browser)["code"][0])
    assert answer.status_code == 200
    body = answer.json()
    assert body["mfa_required"] is True and "accessToken" not in body
    code = pyotp.TOTP(secret).at(time.time() + 30)
    verify = browser.post("/auth/mfa/verify", json={"mfa_token": body["mfa_token"], "code": code})
    assert verify.status_code == 201
    assert me(browser, verify.json()["accessToken"])["username"] == "alice"


def test_a_user_deleted_before_the_exchange_gets_no_tokens() -> None:
    world = World(settings_for())
    browser = world.browser()
    first = exchange(browser, world.sign_in(browser)["code"][0])
    assert first.status_code == 201
    code = world.sign_in(browser)["code"][0]
    world.db["users"].delete_many({})  # deleted meanwhile (DELETE /auth/account, an admin)
    answer = exchange(browser, code)
    assert answer.status_code == 401, answer.text
    assert "accessToken" not in answer.json()
