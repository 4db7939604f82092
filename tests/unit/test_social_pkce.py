"""The exchange code bound to the front end that started the flow (RFC 7636 S256 on
authkit's own exchange, authkit.social.pkce; docs/security.md, "Social sign-in"): the
right verifier signs in, a wrong or missing one is a 400 that uses the code up, a
malformed challenge is a 400 at the start, and AUTHKIT_OAUTH_EXCHANGE_PKCE=optional still
lets a front end without one sign in.

The same exchange on a real server, with racing exchanges: tests/integration/test_social_store.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from support.pkce import Pkce, challenge_of

from authkit.sessions.settings import SessionSettings
from authkit.social.flows import ExchangeCodes
from authkit.social.pkce import binding_problem, read_challenge, s256
from unit.test_social import (
    TARGET,
    World,
    _link,
    _local_user,
    _password_sign_in,
    exchange,
    returned,
    settings_for,
)

UNKNOWN = "The code is unknown, used or expired"


def optional_world() -> World:
    settings = settings_for()
    return World(
        attrs.evolve(settings, oauth=attrs.evolve(settings.oauth, exchange_pkce="optional"))
    )


def start(world: World, **params: str) -> Any:
    return world.browser().get("/auth/oauth/github", params={"redirect_to": TARGET, **params})


def test_the_s256_transform_is_rfc_7636s() -> None:
    # RFC 7636, appendix B.
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    pkce = Pkce.new()
    assert s256(pkce.verifier) == pkce.challenge == challenge_of(pkce.verifier)


def test_the_right_verifier_signs_in_and_the_challenge_went_with_flow_and_code() -> None:
    world, pkce = World(), Pkce.new()
    browser = world.browser()
    authorize = world.start(browser, pkce=pkce)
    (flow,) = list(world.db["oauth_flows"].find())
    assert flow["exchange_challenge"] == pkce.challenge
    # authkit's own PKCE towards the provider is another pair: the front end's is not sent on.
    assert pkce.challenge not in authorize
    _, params = returned(world.callback(browser, world.consent(authorize)))
    code = params["code"][0]
    assert [c["challenge"] for c in world.db["oauth_codes"].find()] == [pkce.challenge]
    answer = exchange(browser, code, pkce)
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"accessToken", "refreshToken"}
    assert world.db["oauth_codes"].count_documents({}) == 0


@pytest.mark.parametrize(
    "verifier",
    [
        Pkce.new().verifier,  # another app instance's: well formed, not this flow's
        "x" * 43,
        "short",
        "x" * 129,
        "a" * 42 + "!",
        "é" * 43,
        "x" * 43 + "\n",
        12345,
        ["a" * 43],
    ],
    ids=["another", "43x", "short", "long", "bang", "accent", "newline", "number", "list"],
)
def test_a_wrong_verifier_is_a_400_and_uses_the_code_up(verifier: object) -> None:
    world, pkce = World(), Pkce.new()
    browser = world.browser()
    code = world.sign_in(browser, pkce=pkce)["code"][0]
    refused = browser.post("/auth/oauth/exchange", json={"code": code, "code_verifier": verifier})
    assert refused.status_code == 400, refused.text
    assert "code_verifier" in refused.json()["message"]
    assert "now used" in refused.json()["message"]
    # No second guess on one code, not even the right one.
    again = exchange(browser, code, pkce)
    assert again.status_code == 400 and again.json()["message"] == UNKNOWN
    assert world.db["oauth_codes"].count_documents({}) == 0


def test_a_lone_surrogate_as_the_verifier_is_a_400() -> None:
    world = World()
    browser = world.browser()
    code = world.sign_in(browser)["code"][0]
    body = b'{"code": "' + code.encode() + b'", "code_verifier": "\\ud800"}'
    answer = browser.post(
        "/auth/oauth/exchange", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert world.db["oauth_codes"].count_documents({}) == 0


@pytest.mark.parametrize("mode", ["body", "cookie"])
def test_a_missing_verifier_is_a_400_and_uses_the_code_up(mode: str) -> None:
    # Whatever the refresh-token mode, the callback ends with a code in the front end's URL.
    world = World(attrs.evolve(settings_for(), sessions=SessionSettings(refresh_tokens=mode)))
    browser = world.browser()
    code = world.sign_in(browser)["code"][0]
    refused = browser.post("/auth/oauth/exchange", json={"code": code})
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("code_verifier is required")
    assert "set-cookie" not in refused.headers
    assert exchange(browser, code).json()["message"] == UNKNOWN


def test_an_unknown_code_with_a_verifier_is_still_unknown() -> None:
    answer = exchange(World().browser(), "nonsense")
    assert answer.status_code == 400 and answer.json()["message"] == UNKNOWN


def test_a_form_body_carries_the_verifier_too() -> None:
    world, pkce = World(), Pkce.new()
    browser = world.browser()
    code = world.sign_in(browser, pkce=pkce)["code"][0]
    assert browser.post("/auth/oauth/exchange", data=pkce.exchange_body(code)).status_code == 201


def test_a_start_without_a_challenge_is_a_400_when_required() -> None:
    world = World()
    answer = start(world)
    assert answer.status_code == 400
    assert "code_challenge is required" in answer.json()["message"]
    assert "AUTHKIT_OAUTH_EXCHANGE_PKCE" in answer.json()["message"]
    assert world.db["oauth_flows"].count_documents({}) == 0


GOOD = Pkce.new().challenge


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"code_challenge": GOOD}, "code_challenge_method must be S256"),
        ({"code_challenge": GOOD, "code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge": GOOD, "code_challenge_method": "s256"}, "must be S256"),
        ({"code_challenge": GOOD, "code_challenge_method": ""}, "must be S256"),
        ({"code_challenge_method": "S256"}, "without a code_challenge"),
        ({"code_challenge": "", "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": GOOD[:42], "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": GOOD + "A", "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": GOOD + "=", "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": "+" + GOOD[1:], "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": "/" + GOOD[1:], "code_challenge_method": "S256"}, "43-character"),
        # 43 base64url characters, but the last one's spare bits set: no SHA-256 encodes so.
        ({"code_challenge": GOOD[:42] + "B", "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": GOOD + "\n", "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": "é" * 43, "code_challenge_method": "S256"}, "43-character"),
        ({"code_challenge": "A" * 5000, "code_challenge_method": "S256"}, "43-character"),
        # A verifier where the challenge belongs (a front end that forgot to hash it).
        ({"code_challenge": "v" * 64, "code_challenge_method": "S256"}, "43-character"),
    ],
)
@pytest.mark.parametrize("mode", ["required", "optional"])
def test_a_malformed_challenge_is_a_400_at_the_start(
    params: dict[str, str], says: str, mode: str
) -> None:
    world = World() if mode == "required" else optional_world()
    answer = start(world, **params)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["message"]
    assert world.db["oauth_flows"].count_documents({}) == 0
    assert "authkit_oauth_browser" not in answer.headers.get("set-cookie", "")


def test_the_target_is_checked_before_the_challenge() -> None:
    answer = (
        World().browser().get("/auth/oauth/github", params={"redirect_to": "http://evil.test/"})
    )
    assert answer.status_code == 400
    assert "redirect_to" in answer.json()["message"]


def test_optional_mode_signs_in_without_a_challenge() -> None:
    world = optional_world()
    browser = world.browser()
    code = world.sign_in(browser, pkce=None)["code"][0]
    assert world.db["oauth_codes"].find_one({})["challenge"] is None
    assert exchange(browser, code, None).status_code == 201


def test_optional_mode_still_binds_a_flow_started_with_a_challenge() -> None:
    world, pkce = optional_world(), Pkce.new()
    browser = world.browser()
    code = world.sign_in(browser, pkce=pkce)["code"][0]
    assert browser.post("/auth/oauth/exchange", json={"code": code}).status_code == 400
    code = world.sign_in(browser, pkce=pkce)["code"][0]
    assert exchange(browser, code, Pkce.new()).status_code == 400
    code = world.sign_in(browser, pkce=pkce)["code"][0]
    assert exchange(browser, code, pkce).status_code == 201


def test_a_verifier_for_a_code_bound_to_nothing_is_refused() -> None:
    # RFC 9700 4.8.2: a front end that sent a challenge which never arrived (stripped on the
    # way) must not have its verifier waved through as if the flow had been bound.
    world = optional_world()
    browser = world.browser()
    code = world.sign_in(browser, pkce=None)["code"][0]
    refused = exchange(browser, code, Pkce.new())
    assert refused.status_code == 400
    assert "started without a code_challenge" in refused.json()["message"]
    assert exchange(browser, code, None).json()["message"] == UNKNOWN


def test_required_mode_refuses_a_code_issued_unbound() -> None:
    # A code handed out while the setting was `optional`, exchanged after it became `required`.
    world = World()
    codes = ExchangeCodes(world.db["oauth_codes"])
    code = asyncio.run(codes.issue("65a0c0ffee0000000000beef", "octocat_1a2b3c"))
    refused = exchange(world.browser(), code, None)
    assert refused.status_code == 400
    assert "AUTHKIT_OAUTH_EXCHANGE_PKCE=required" in refused.json()["message"]
    assert world.db["oauth_codes"].count_documents({}) == 0


def test_of_racing_exchanges_with_the_right_verifier_one_wins() -> None:
    world, pkce = World(), Pkce.new()
    code = world.sign_in(world.browser(), pkce=pkce)["code"][0]
    codes = ExchangeCodes(world.db["oauth_codes"])

    async def race() -> list[Any]:
        return list(await asyncio.gather(*(codes.redeem(code) for _ in range(8))))

    taken = [grant for grant in asyncio.run(race()) if grant is not None]
    assert len(taken) == 1 and taken[0].challenge == pkce.challenge


def test_a_link_flow_needs_no_challenge() -> None:
    # It ends with ?linked=, never a code in a URL.
    world = World()
    _local_user(world, "alice")
    browser = world.browser()
    _, params = returned(_link(world, browser, _password_sign_in(world, browser, "alice")))
    assert params == {"linked": ["github"]}


def test_no_verifier_or_challenge_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="authkit.security")
    world, pkce = World(), Pkce.new()
    browser = world.browser()
    code = world.sign_in(browser, pkce=pkce)["code"][0]
    assert exchange(browser, code, Pkce.new()).status_code == 400
    refusals = [
        r.fields
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "oauth_exchange_refused"
    ]
    assert refusals and refusals[0]["reason"] == "verifier" and refusals[0]["user_id"]
    text = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert pkce.verifier not in text and pkce.challenge not in text and code not in text


def test_the_openapi_document_describes_the_binding() -> None:
    def operations(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
        paths = world.browser().get("/openapi.json").json()["paths"]
        started = {p["name"]: p for p in paths["/auth/oauth/{provider}"]["get"]["parameters"]}
        body = paths["/auth/oauth/exchange"]["post"]["requestBody"]["content"]
        return started, body["application/json"]["schema"]

    started, body = operations(World())
    assert started["code_challenge"]["required"] and started["code_challenge_method"]["required"]
    assert started["code_challenge_method"]["schema"]["enum"] == ["S256"]
    assert body["required"] == ["code", "code_verifier"]
    verifier = body["properties"]["code_verifier"]
    assert (verifier["minLength"], verifier["maxLength"]) == (43, 128)
    started, body = operations(optional_world())
    assert not started["code_challenge"]["required"] and body["required"] == ["code"]


def test_the_pure_checks_agree_with_the_routes() -> None:
    pkce = Pkce.new()
    assert read_challenge(None, None, required=False) is None
    assert read_challenge(pkce.challenge, "S256", required=True) == pkce.challenge
    assert binding_problem(pkce.challenge, pkce.verifier, required=True) is None
    assert binding_problem(None, None, required=False) is None
    assert binding_problem(None, None, required=True) is not None
    assert binding_problem(pkce.challenge, None, required=False) is not None
