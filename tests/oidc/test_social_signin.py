"""Social sign-in (#17) through a real OpenID provider: authkit under uvicorn, configured with
AUTHKIT_OAUTH_PROVIDERS=corp pointing at oidc-provider on loopback, and a scripted browser
(support.oidc_agent.UserAgent) that walks the redirects and the provider's own login and
consent pages, the way a person's browser does.

Each test has its own authkit process and database (the `authkit` fixture); the provider is
shared, and each test signs in as provider accounts of its own (any login is an account).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from base64 import urlsafe_b64encode
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from support.oidc_agent import UserAgent
from support.oidc_fixture import OidcProvider
from support.social import SocialFlows, query, replace_query

AUTHKIT_CLIENT_ID = "authkit-corp"
ROOT = Path(__file__).resolve().parents[2]


def _login(tag: str) -> str:
    """A provider account no other test signs in as."""
    return f"{tag}-{secrets.token_hex(4)}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_whole_sign_in_ends_with_authkits_tokens(
    authkit: SocialFlows, oidc_provider: OidcProvider, front_end: str
) -> None:
    login = _login("whole")
    with UserAgent() as browser:
        landed = authkit.sign_in(browser, login)
        journal = list(browser.journal)
        # What the front end's page then does (by fetch, from its own origin).
        tokens = browser.request(
            "POST",
            authkit.base_url + "/auth/oauth/exchange",
            json=authkit.pkce.exchange_body(query(landed)["code"]),
        )
        me = browser.request(
            "GET", authkit.base_url + "/auth/me", headers=_bearer(tokens.json()["accessToken"])
        )
        # The flow as a browser's network panel shows it, for the docs and whoever reads CI.
        artifacts = Path(os.environ.get("AUTHKIT_ARTIFACTS", ROOT / ".artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        steps = [*journal, f"(the front end's page, not served here) GET {landed}"]
        steps += browser.journal[len(journal) :]
        (artifacts / "oidc-flow.txt").write_text("".join(f"{step}\n" for step in steps))

    # authkit -> provider (login, consent) -> authkit's callback -> the front end.
    first, last = journal[0], journal[-1]
    assert (first.url, first.status) == (authkit.start_url, 302)
    assert last.url.startswith(authkit.callback + "?") and last.status == 302
    hosts = {urlsplit(step.url).netloc for step in journal}
    assert hosts == {urlsplit(authkit.base_url).netloc, urlsplit(oidc_provider.issuer).netloc}
    assert any(step.method == "POST" for step in journal)  # the provider's pages were filled

    # The provider's answer carries only a code (no token in any URL), and so does authkit's.
    assert landed.startswith(front_end + "?")
    assert set(query(landed)) == {"code"}
    assert set(query(last.url)) == {"code", "state", "iss"}

    assert tokens.status_code == 201, tokens.text
    assert set(tokens.json()) == {"accessToken", "refreshToken"}  # what /auth/signin answers
    assert me.status_code == 200
    assert me.json()["username"]  # generated: the provider's name or address is not trusted
    assert set(me.json()) == {"_id", "username"}

    identities = httpx.get(
        authkit.base_url + "/auth/identities", headers=_bearer(tokens.json()["accessToken"])
    )
    assert identities.status_code == 200
    [identity] = identities.json()
    assert (identity["provider"], identity["issuer"], identity["subject"]) == (
        "corp",
        oidc_provider.issuer,
        login,
    )
    assert identity["email"] == f"{login}@example.test"


def test_the_authorization_request_asks_for_pkce_nonce_and_state(
    authkit: SocialFlows, oidc_provider: OidcProvider, authkit_port: int
) -> None:
    with UserAgent() as browser:
        started = browser.get(authkit.start_url)
    assert started.status_code == 302
    authorize = started.headers["location"]
    params = query(authorize)
    assert authorize.startswith(oidc_provider.metadata()["authorization_endpoint"] + "?")
    assert params["response_type"] == "code"
    assert params["client_id"] == AUTHKIT_CLIENT_ID
    assert params["redirect_uri"] == f"http://127.0.0.1:{authkit_port}/auth/oauth/corp/callback"
    assert set(params["scope"].split()) >= {"openid", "email", "profile"}
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256
    # authkit's own, for the provider's code: the front end's challenge is not passed on.
    assert params["code_challenge"] != authkit.pkce.challenge
    assert len(params["state"]) >= 22 and len(params["nonce"]) >= 22
    # The cookie that binds the flow to this browser.
    binding = started.headers["set-cookie"].lower()
    assert "httponly" in binding and "samesite=lax" in binding and "path=/auth/oauth" in binding


def _signed_in(landed: dict[str, str], tampered: bool) -> None:
    """The untampered run of a tamper test signs in (so the tampering, not the test's URL
    handling, is what the tampered run is refused for); the tampered one is provider_error."""
    if tampered:
        assert "code" not in landed
        assert landed["error"] == "provider_error", landed
    else:
        assert set(landed) == {"code"}, landed


@pytest.mark.parametrize("tampered", [False, True], ids=["kept", "swapped"])
def test_an_id_token_with_another_nonce_signs_nobody_in(
    authkit: SocialFlows, tampered: bool
) -> None:
    # The provider signs whatever nonce the request carried: one the browser swapped in is
    # not the one authkit keeps for this flow.
    with UserAgent() as browser:
        authorize = authkit.authorization_url(browser)
        nonce = "n" * 32 if tampered else query(authorize)["nonce"]
        authorize = replace_query(authorize, nonce=nonce)
        _signed_in(query(authkit.to_front_end(browser, authorize, login=_login("nonce"))), tampered)


@pytest.mark.parametrize("tampered", [False, True], ids=["kept", "swapped"])
def test_a_code_challenge_swapped_in_the_browser_signs_nobody_in(
    authkit: SocialFlows, tampered: bool
) -> None:
    # An attacker's challenge: the provider then refuses authkit's own code_verifier.
    verifier = secrets.token_urlsafe(48)
    attackers = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    with UserAgent() as browser:
        authorize = authkit.authorization_url(browser)
        challenge = attackers.decode() if tampered else query(authorize)["code_challenge"]
        authorize = replace_query(authorize, code_challenge=challenge)
        _signed_in(query(authkit.to_front_end(browser, authorize, login=_login("pkce"))), tampered)


@pytest.mark.parametrize(
    "iss", [None, "http://127.0.0.1:9/other-issuer", ""], ids=["kept", "another", "removed"]
)
def test_a_callback_naming_another_issuer_or_none_is_refused(
    authkit: SocialFlows, oidc_provider: OidcProvider, iss: str | None
) -> None:
    # RFC 9207: the iss parameter names who answered; a mix-up attack names another one, or
    # strips it, though discovery says this provider always sends it.
    with UserAgent() as browser:
        callback = authkit.to_callback(
            browser, authkit.authorization_url(browser), login=_login("iss")
        )
        assert query(callback)["iss"] == oidc_provider.issuer
        if iss is not None:
            callback = replace_query(callback, iss=iss or None)
        _signed_in(query(authkit.to_front_end(browser, callback)), iss is not None)


def test_two_flows_started_in_one_browser_both_sign_in(authkit: SocialFlows) -> None:
    # Two tabs: both flows are started before either comes back, and they finish out of order.
    login = _login("tabs")
    with UserAgent() as browser:
        first = authkit.authorization_url(browser)
        second = authkit.authorization_url(browser)
        second_landed = query(authkit.to_front_end(browser, second, login=login))
        first_landed = query(authkit.to_front_end(browser, first, login=login))
    assert "code" in first_landed and "code" in second_landed, (first_landed, second_landed)
    users = set()
    for landed in (first_landed, second_landed):
        tokens = authkit.exchange(landed["code"])
        assert tokens.status_code == 201, tokens.text
        users.add(authkit.me(tokens.json()["accessToken"])["_id"])
    assert len(users) == 1  # one provider account, one authkit user


def test_a_callback_opened_twice_signs_in_once(authkit: SocialFlows) -> None:
    with UserAgent() as browser:
        callback = authkit.to_callback(
            browser, authkit.authorization_url(browser), login=_login("twice")
        )
        first = browser.get(callback)
        second = browser.get(callback)
    assert first.status_code == 302
    assert "code" in query(first.headers["location"])
    assert "code" not in query(second.headers.get("location", ""))
    if second.status_code == 302:
        assert query(second.headers["location"])["error"] == "invalid_state"
    else:
        assert second.status_code == 400


def test_the_same_callback_opened_twice_at_once_signs_in_once(authkit: SocialFlows) -> None:
    with UserAgent() as browser:
        callback = authkit.to_callback(
            browser, authkit.authorization_url(browser), login=_login("race")
        )
        cookies = httpx.Cookies(browser.http.cookies)  # the same browser, in two tabs
    answers: list[httpx.Response] = []
    gate = threading.Barrier(2, timeout=15)

    def open_it() -> None:
        with httpx.Client(cookies=cookies, timeout=15) as tab:
            gate.wait()
            answers.append(tab.get(callback))

    tabs = [threading.Thread(target=open_it) for _ in range(2)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(30)
    assert len(answers) == 2
    codes = [query(a.headers.get("location", "")).get("code") for a in answers]
    assert len([c for c in codes if c]) == 1, [a.headers.get("location") for a in answers]


def test_another_browser_cannot_finish_the_flow(authkit: SocialFlows) -> None:
    # Login CSRF: the victim's browser must not be signed in to the attacker's account.
    with UserAgent() as attacker:
        callback = authkit.to_callback(
            attacker, authkit.authorization_url(attacker), login=_login("csrf")
        )
    with UserAgent() as victim:
        answer = victim.get(callback)
    assert "code" not in query(answer.headers.get("location", ""))
    assert answer.status_code in (302, 400)


def test_consent_denied_returns_to_the_front_end_with_access_denied(
    authkit: SocialFlows, front_end: str
) -> None:
    with UserAgent() as browser:
        landed = authkit.sign_in(browser, _login("deny"), deny_on="consent")
    assert landed.startswith(front_end + "?")
    answer = query(landed)
    assert answer["error"] == "access_denied"
    assert "code" not in answer
    assert answer.get("error_description")


def test_the_one_time_code_exchanges_once(authkit: SocialFlows) -> None:
    with UserAgent() as browser:
        code = query(authkit.sign_in(browser, _login("replay")))["code"]
    assert authkit.exchange(code).status_code == 201
    replayed = authkit.exchange(code)
    assert 400 <= replayed.status_code < 500
    assert "accessToken" not in replayed.text
    assert authkit.exchange("not-a-code").status_code in (400, 401)


def test_a_code_taken_from_the_url_is_useless_without_the_apps_verifier(
    authkit: SocialFlows,
) -> None:
    # Another reader of the front end's URL (history, Referer, an extension) has the code but
    # not the verifier the app kept; its one try uses the code up.
    with UserAgent() as browser:
        code = query(authkit.sign_in(browser, _login("stolen")))["code"]
    stolen = httpx.post(authkit.base_url + "/auth/oauth/exchange", json={"code": code})
    assert stolen.status_code == 400 and "accessToken" not in stolen.text
    assert "code_verifier" in stolen.json()["message"]
    assert authkit.exchange(code).status_code == 400
    with UserAgent() as browser:
        code = query(authkit.sign_in(browser, _login("guessed")))["code"]
    guessed = authkit.exchange(code, verifier=secrets.token_urlsafe(48))
    assert guessed.status_code == 400 and "does not match" in guessed.json()["message"]
    assert authkit.exchange(code).status_code == 400


def test_an_identity_is_its_subject_not_its_email(authkit: SocialFlows) -> None:
    # alice and mallory have the same verified address and different subjects: two people.
    with UserAgent() as browser:
        alice = authkit.me(authkit.tokens_for(browser, "alice")["accessToken"])
    with UserAgent() as browser:
        mallory = authkit.me(authkit.tokens_for(browser, "mallory")["accessToken"])
    with UserAgent() as browser:
        alice_again = authkit.me(authkit.tokens_for(browser, "alice")["accessToken"])
    assert mallory["_id"] != alice["_id"]
    assert alice_again == alice


def test_a_signed_in_user_links_and_unlinks_an_identity(authkit: SocialFlows) -> None:
    username, token = authkit.local_user()
    login = _login("link")
    with UserAgent() as browser:
        assert authkit.link(browser, token, login) == {"linked": "corp"}

    [identity] = authkit.identities(token)
    assert (identity["provider"], identity["subject"]) == ("corp", login)
    with UserAgent() as browser:
        via_provider = authkit.me(authkit.tokens_for(browser, login)["accessToken"])
    assert via_provider["username"] == username  # the provider now signs in the local user

    base = authkit.base_url
    assert httpx.delete(base + "/auth/identities/corp", headers=_bearer(token)).status_code == 204
    assert authkit.identities(token) == []
    with UserAgent() as browser:
        after = authkit.me(authkit.tokens_for(browser, login)["accessToken"])
    assert after["_id"] != via_provider["_id"]  # unlinked: the provider's user is a new one


def test_an_identity_of_another_user_is_not_linked(authkit: SocialFlows) -> None:
    login = _login("taken")
    with UserAgent() as browser:
        owner = authkit.me(authkit.tokens_for(browser, login)["accessToken"])
    _, token = authkit.local_user()
    with UserAgent() as browser:
        landed = authkit.link(browser, token, login)
    assert landed["error"] == "identity_in_use", landed
    assert authkit.identities(token) == []
    with UserAgent() as browser:
        assert authkit.me(authkit.tokens_for(browser, login)["accessToken"]) == owner


def test_a_second_identity_of_the_same_provider_is_not_linked(authkit: SocialFlows) -> None:
    _, token = authkit.local_user()
    first, second = _login("first"), _login("second")
    with UserAgent() as browser:
        assert authkit.link(browser, token, first) == {"linked": "corp"}
    with UserAgent() as browser:
        landed = authkit.link(browser, token, second)
    assert landed["error"] == "already_linked", landed
    assert [i["subject"] for i in authkit.identities(token)] == [first]


def test_a_link_flow_finished_in_another_browser_links_nothing(authkit: SocialFlows) -> None:
    # The attacker starts a link to their own account and gets the victim to open the URL:
    # the victim's provider account must not end up signing in to the attacker's account.
    _, attackers_token = authkit.local_user()
    with UserAgent() as attacker:
        authorize = authkit.start_link(attacker, attackers_token)
    victim_login = _login("victim")
    with UserAgent() as victim:
        callback = authkit.to_callback(victim, authorize, login=victim_login)
        answer = victim.get(callback)
    assert "linked" not in query(answer.headers.get("location", "")), answer.headers
    assert answer.status_code in (302, 400)
    assert authkit.identities(attackers_token) == []


def test_a_provider_sign_in_still_asks_for_the_second_factor(authkit: SocialFlows) -> None:
    username, token = authkit.local_user()
    base = authkit.base_url
    enrolled = httpx.post(base + "/auth/mfa/totp", headers=_bearer(token))
    assert enrolled.status_code == 201, enrolled.text
    totp = pyotp.TOTP(enrolled.json()["secret"])
    confirmed = httpx.post(
        base + "/auth/mfa/totp/confirm", json={"code": totp.now()}, headers=_bearer(token)
    )
    assert confirmed.status_code == 200, confirmed.text
    login = _login("mfa")
    with UserAgent() as browser:
        assert authkit.link(browser, token, login) == {"linked": "corp"}
    with UserAgent() as browser:
        landed = query(authkit.sign_in(browser, login))
    challenge = authkit.exchange(landed["code"])
    assert challenge.status_code == 200, challenge.text
    assert challenge.json()["mfa_required"] is True
    assert "accessToken" not in challenge.json()
    verified = httpx.post(
        base + "/auth/mfa/verify",
        # The next period's code: the one used to confirm may not be used twice.
        json={"mfa_token": challenge.json()["mfa_token"], "code": totp.at(time.time() + 30)},
    )
    assert verified.status_code == 201, verified.text
    assert authkit.me(verified.json()["accessToken"])["username"] == username


def test_the_last_way_to_sign_in_cannot_be_unlinked(authkit: SocialFlows) -> None:
    with UserAgent() as browser:
        token = authkit.tokens_for(browser, _login("last"))["accessToken"]
    refused = httpx.delete(authkit.base_url + "/auth/identities/corp", headers=_bearer(token))
    assert refused.status_code == 409
    assert len(httpx.get(authkit.base_url + "/auth/identities", headers=_bearer(token)).json()) == 1


def test_a_redirect_target_not_configured_is_refused(authkit: SocialFlows) -> None:
    for target in ("http://127.0.0.1:9/elsewhere", authkit.redirect_to + "/../admin", ""):
        answer = httpx.get(
            f"{authkit.base_url}/auth/oauth/corp",
            params={"redirect_to": target, **authkit.pkce.start_params},
            timeout=15,
        )
        assert answer.status_code == 400, (target, answer.status_code)
    unknown = httpx.get(
        f"{authkit.base_url}/auth/oauth/nobody",
        params={"redirect_to": authkit.redirect_to},
        timeout=15,
    )
    assert unknown.status_code == 404
