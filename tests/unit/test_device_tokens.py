"""A stranger's guesses cannot lock out a client that has signed in before (issue 16, item 3).

OWASP's device cookies over HTTP: a sign-in gives the client a device token bound to the
account; with it, the client is judged by its own failures only, while the per-account
limit holds for every untrusted source. Browsers keep it in a cookie; clients without
cookies ask for it with `Authkit-Device: new` and send it back in that header.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import attrs
import bcrypt
import httpx
import mongomock
import pytest
from bson import ObjectId
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import create_app, load_settings
from authkit.passwords.devices import DeviceTokens
from authkit.passwords.throttle import Limit
from authkit.settings.catalog import format_value
from authkit.settings.model import CORSSettings, JWTSettings, Secret, SigninLimits
from authkit.tokens.keys import SigningKeys

RIGHT = {"username": "alice", "password": "right-password"}
WRONG = {"username": "alice", "password": "wrong-password"}


_THREE_PER_QUARTER_HOUR = Limit(3, 900)


def _limits(device: Limit | None = _THREE_PER_QUARTER_HOUR) -> SigninLimits:
    return SigninLimits(per_account=Limit(3, 900), per_address=Limit(50, 900), per_device=device)


def _client(limits: SigninLimits) -> TestClient:
    app = create_app(make_settings(signin_limits=limits), database=mongomock.MongoClient().db)
    # https: the device cookie is Secure, and the client's jar sends it back only over https.
    return TestClient(app, base_url="https://testserver")


@pytest.fixture
def client() -> Iterator[TestClient]:
    with _client(_limits()) as client:
        assert client.post("/auth/signup", json=RIGHT).status_code == 201
        yield client


def _elsewhere(client: TestClient) -> TestClient:
    """Another client of the same service: its own, empty cookie jar."""
    return TestClient(client.app, base_url="https://testserver")


def _stranger(client: TestClient, times: int) -> list[int]:
    """Wrong passwords for alice from a client that never signed in (no cookie, no header)."""
    stranger = _elsewhere(client)
    return [stranger.post("/auth/signin", json=WRONG).status_code for _ in range(times)]


def _device_cookie(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


def test_a_browser_that_signed_in_before_still_signs_in_while_strangers_lock_the_account(
    client: TestClient,
) -> None:
    assert client.post("/auth/signin", json=RIGHT).status_code == 201  # keeps its cookie
    stranger = _stranger(client, 5)
    owner = client.post("/auth/signin", json=RIGHT)
    fresh = _elsewhere(client).post("/auth/signin", json=RIGHT)

    assert stranger == [401, 401, 401, 429, 429]
    assert owner.status_code == 201
    assert "accessToken" in owner.json()
    assert fresh.status_code == 429  # an untrusted source: the hard per-account limit holds


def test_the_device_cookie_is_httponly_secure_strict_and_scoped_to_signin(
    client: TestClient,
) -> None:
    signed_in = client.post("/auth/signin", json=RIGHT)
    cookie = _device_cookie(signed_in)["authkit_device"]
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/auth/signin"
    assert int(cookie["max-age"]) == 90 * 86400
    assert "authkit-device" not in signed_in.headers  # a browser gets the cookie alone
    assert set(signed_in.json()) == {"accessToken", "refreshToken"}  # the body is unchanged


def test_a_client_without_cookies_keeps_its_allowance_through_the_header(
    client: TestClient,
) -> None:
    api = _elsewhere(client)
    first = api.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": "new"})
    token = first.headers["authkit-device"]
    assert "authkit_device" not in first.headers.get("set-cookie", "")
    _stranger(client, 4)
    owner = api.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": token})
    assert owner.status_code == 201
    assert owner.headers["authkit-device"]  # renewed; the same device


def test_a_trusted_device_is_stopped_by_its_own_failures_and_spares_the_others(
    client: TestClient,
) -> None:
    token = client.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": "new"}).headers[
        "authkit-device"
    ]
    as_device = {"Authkit-Device": token}
    own = [client.post("/auth/signin", json=WRONG, headers=as_device).status_code for _ in range(4)]
    locked = client.post("/auth/signin", json=RIGHT, headers=as_device)
    browser = client.post("/auth/signin", json=RIGHT)  # the cookie from the first sign-in

    assert own == [401, 401, 401, 429]
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 900
    assert browser.status_code == 201  # another trusted client of hers
    # The device's failures are its own: untrusted sources still have their three.
    assert _stranger(client, 3) == [401, 401, 401]


@pytest.mark.parametrize(
    "presented",
    [
        "forged",
        "for another account",
        "altered",
        "expired",
        "garbage",
        "not ascii",
        "huge expiry",
    ],
)
def test_a_token_that_is_not_a_valid_one_for_the_account_counts_as_a_stranger(
    client: TestClient, presented: str
) -> None:
    assert client.post("/auth/signup", json={**RIGHT, "username": "mallory"}).status_code == 201
    mallory = client.post(
        "/auth/signin", json={**RIGHT, "username": "mallory"}, headers={"Authkit-Device": "new"}
    ).headers["authkit-device"]
    real = client.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": "new"}).headers[
        "authkit-device"
    ]
    version, device_id, expires, mac = real.split(".")
    token = {
        "forged": DeviceTokens(b"not the service's key", ttl_seconds=3600).issue("alice"),
        "for another account": mallory,
        "altered": ".".join((version, device_id, str(int(expires) + 86400), mac)),
        "expired": DeviceTokens(b"k", ttl_seconds=-1).issue("alice"),
        "garbage": b"d1." + b"\xe9" * 40 + b"...." + b"x" * 500,
        "not ascii": f"d1.{device_id}.{expires}.\u00e9\u00e9".encode("latin-1"),
        "huge expiry": ".".join((version, device_id, "9" * 60, mac)),
    }[presented]
    _stranger(client, 3)
    tried = _elsewhere(client).post("/auth/signin", json=RIGHT, headers={"Authkit-Device": token})
    assert tried.status_code == 429


def test_device_tokens_off_trusts_no_client() -> None:
    with _client(_limits(device=None)) as client:
        assert client.post("/auth/signup", json=RIGHT).status_code == 201
        signed_in = client.post("/auth/signin", json=RIGHT)
        assert "authkit_device" not in signed_in.headers.get("set-cookie", "")
        _stranger(client, 3)
        assert client.post("/auth/signin", json=RIGHT).status_code == 429


def test_a_cross_site_signin_does_not_replace_the_browsers_device_cookie(
    client: TestClient,
) -> None:
    crossed = client.post("/auth/signin", json=RIGHT, headers={"Sec-Fetch-Site": "cross-site"})
    assert crossed.status_code == 201
    assert "authkit_device" not in crossed.headers.get("set-cookie", "")


def test_a_token_is_bound_to_its_account_and_expires() -> None:
    now = [1_000_000.0]
    devices = DeviceTokens(b"k" * 32, ttl_seconds=60, clock=lambda: now[0])
    token = devices.issue("alice")
    device = devices.verify(token, "alice")
    assert device is not None
    assert devices.verify(devices.issue("alice", device), "alice") == device
    assert devices.verify(token, "alicE") is None
    assert devices.verify(None, "alice") is None
    now[0] += 61
    assert devices.verify(token, "alice") is None


def test_a_page_on_an_allowed_origin_may_send_and_read_the_device_header() -> None:
    settings = make_settings(cors=CORSSettings(origins=("https://app.example",)))
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        preflight = client.options(
            "/auth/signin",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, authkit-device",
            },
        )
        signed_up = client.post(
            "/auth/signup", json=RIGHT, headers={"Origin": "https://app.example"}
        )
    assert preflight.status_code == 200
    assert "authkit-device" in preflight.headers["access-control-allow-headers"].lower()
    assert "authkit-device" in signed_up.headers["access-control-expose-headers"].lower()


def test_the_signin_operation_documents_the_device_header(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/auth/signin"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["Authkit-Device"]


def _app_with(database: object, **limits: object) -> TestClient:
    settings = make_settings(signin_limits=attrs.evolve(_limits(), **limits))
    return TestClient(create_app(settings, database=database), base_url="https://testserver")


def test_hosts_sharing_the_device_key_trust_each_others_tokens_and_no_other_key_does() -> None:
    database = mongomock.MongoClient().db
    shared = {"device_key": Secret("device-key-of-every-host-0123456789")}
    with _app_with(database, **shared) as one, _app_with(database, **shared) as two:
        assert one.post("/auth/signup", json=RIGHT).status_code == 201
        token = one.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": "new"}).headers[
            "authkit-device"
        ]
        _stranger(one, 3)
        on_two = two.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": token})
    with _app_with(database, device_key=Secret("another-key-0123456789abcdef0123")) as other:
        elsewhere = other.post("/auth/signin", json=RIGHT, headers={"Authkit-Device": token})
    assert on_two.status_code == 201
    assert elsewhere.status_code == 429


def test_the_device_key_is_read_from_the_environment_and_never_shown() -> None:
    settings = load_settings(
        {"JWT_SECRET": "s" * 40, "AUTHKIT_DEVICE_KEY": "device-key-0123456789abcdef012345"}
    )
    key = settings.signin_limits.device_key
    assert key is not None and key.value == "device-key-0123456789abcdef012345"
    assert "device-key" not in format_value(key)


def test_with_a_key_set_and_no_device_key_no_client_is_trusted_and_the_log_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys_file = tmp_path / "keys.json"
    SigningKeys.generate("ES256", time.time()).write(keys_file, replace=False)
    settings = make_settings(jwt=JWTSettings(keys_file=keys_file), signin_limits=_limits())
    with caplog.at_level(logging.WARNING, logger="authkit"):
        app = create_app(settings, database=mongomock.MongoClient().db)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.post("/auth/signup", json=RIGHT).status_code == 201
        signed_in = client.post("/auth/signin", json=RIGHT)
    assert "authkit_device" not in signed_in.headers.get("set-cookie", "")
    assert "no device tokens: AUTHKIT_DEVICE_KEY is not set" in caplog.text


def test_a_device_stays_trusted_whichever_spelling_of_the_name_it_signs_in_with() -> None:
    # The token is bound to the account's canonical name, as the limits count it: a browser
    # that signed in as `Carol` keeps its allowance when it next types `carol`.
    carol = {"username": "Carol", "password": "right-password"}
    with _client(_limits()) as browser:
        assert browser.post("/auth/signup", json=carol).status_code == 201
        assert browser.post("/auth/signin", json=carol).status_code == 201
        stranger = _elsewhere(browser)
        guesses = [
            stranger.post("/auth/signin", json={**carol, "password": "wrong-password"}).status_code
            for _ in range(5)
        ]
        assert guesses[-1] == 429
        again = browser.post("/auth/signin", json={**carol, "username": "carol"})
        assert again.status_code == 201


def test_a_device_token_of_one_account_never_passes_for_another_of_a_similar_name() -> None:
    # The NestJS app made `Bob` and `bob` (authkit would refuse the second): both keep
    # signing in, and share a canonical name. A token `Bob`'s owner earned must not make
    # guesses at `bob` count against that device alone, or one account's owner could
    # make endless tokens and guess the other's password without limit.
    database = mongomock.MongoClient().db
    hashed = bcrypt.hashpw(b"right-password", bcrypt.gensalt(4)).decode()
    for name in ("Bob", "bob"):
        database["users"].insert_one(
            {"_id": ObjectId(), "username": name, "password": hashed, "__v": 0}
        )
    # A device's own allowance (10) above the account's (3): trusted, the guesses would pass.
    limits = _limits(device=Limit(10, 900))
    app = create_app(make_settings(signin_limits=limits), database=database)
    with TestClient(app, base_url="https://testserver") as client:
        mine = client.post(
            "/auth/signin",
            json={"username": "Bob", "password": "right-password"},
            headers={"Authkit-Device": "new"},
        )
        assert mine.status_code == 201
        token = mine.headers["authkit-device"]
        guesses = [
            client.post(
                "/auth/signin",
                json={"username": "bob", "password": "wrong-password"},
                headers={"Authkit-Device": token},
            ).status_code
            for _ in range(5)
        ]
    assert guesses == [401, 401, 401, 429, 429]
