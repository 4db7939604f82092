"""Where a request comes from (authkit.http.client_address): only a parsed IP address
reaches the logs, and IPv6 clients are throttled by their /64. Which proxies' headers
are believed is `authkit serve`'s (tests/e2e/test_serve_edges.py)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit.http.client_address import client_ip, forwarded_allow_ips, parse_networks, throttle_key
from authkit.passwords.throttle import Limit
from authkit.settings.loader import load_settings
from authkit.settings.model import SigninLimits


@pytest.mark.parametrize(
    ("host", "ip", "key"),
    [
        ("203.0.113.9", "203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9", "203.0.113.9"),  # a dual-stack socket's IPv4
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::ffff", "2001:db8:1:2::/64"),
        ("evil\n{}", None, "unknown"),  # what a believed X-Forwarded-For could carry
        ("", None, "unknown"),
        ("testclient", None, "unknown"),
    ],
)
def test_only_a_parsed_ip_is_an_address(host: str, ip: str | None, key: str) -> None:
    scope = {"type": "http", "client": (host, 1234)}
    found = client_ip(scope)
    assert (None if found is None else str(found)) == ip
    assert throttle_key(scope) == key


def test_a_request_without_a_peer_has_no_address() -> None:
    assert client_ip({"type": "http", "client": None}) is None
    assert throttle_key({"type": "http"}) == "unknown"


def test_trusted_proxies_are_addresses_or_networks_and_never_everyone() -> None:
    assert parse_networks(" 10.0.0.5, 10.1.0.0/16 ,::1") == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("::1/128"),
    )
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="name the proxies"):
        parse_networks("*")
    with pytest.raises(ValueError, match=r"'proxy\.internal' is not an IP address or network"):
        parse_networks("10.0.0.5,proxy.internal")


def test_the_setting_is_read_and_checked_like_any_other() -> None:
    settings = load_settings({"JWT_SECRET": "s" * 40, "AUTHKIT_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert settings.server.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"),)
    assert load_settings({"JWT_SECRET": "s" * 40}).server.trusted_proxies == ()
    with pytest.raises(Exception, match="AUTHKIT_TRUSTED_PROXIES: `\\*` would trust every peer"):
        load_settings({"JWT_SECRET": "s" * 40, "AUTHKIT_TRUSTED_PROXIES": "*"})


def test_one_ipv6_host_cannot_escape_the_address_limit_by_changing_address(
    make_client: Callable[..., TestClient],
) -> None:
    settings = make_settings(
        signin_limits=SigninLimits(per_account=None, per_address=Limit(3, 900))
    )
    guess = {"username": "nobody", "password": "wrong-password"}

    def sign_in_from(host: str) -> int:
        client = make_client(settings, client=(host, 5000))
        return client.post("/auth/signin", json=guess).status_code

    # A host holds its whole /64: three addresses in it are three guesses from one place.
    spent = [sign_in_from(f"2001:db8:1:2::{n}") for n in (1, 2, 3)]
    assert spent == [401, 401, 401]
    assert sign_in_from("2001:db8:1:2:ffff:ffff:ffff:ffff") == 429
    assert sign_in_from("2001:db8:1:3::1") == 401  # the next /64 is someone else


def test_the_access_line_carries_no_string_that_is_not_an_address(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authkit.access")
    make_client(client=('forged", "user_id": "admin', 5000)).get("/healthz")
    make_client(client=("::ffff:198.51.100.7", 5000)).get("/healthz")
    clients: list[Any] = [
        r.fields["client"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "authkit.access"
    ]
    assert clients == [None, "198.51.100.7"]


@pytest.mark.anyio
@pytest.mark.parametrize("peer", ["10.0.0.5", "::ffff:10.0.0.5"])
async def test_a_named_ipv4_proxy_is_believed_on_a_dual_stack_socket_too(peer: str) -> None:
    # `authkit serve --host ::` listens on IPv6 and IPv4 at once: an IPv4 proxy then
    # connects from `::ffff:10.0.0.5`, and must be believed as 10.0.0.5 is.
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    seen: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    allowed = forwarded_allow_ips(parse_networks("10.0.0.5"))
    layer = ProxyHeadersMiddleware(app, trusted_hosts=allowed)
    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 4000),
        "headers": [(b"x-forwarded-for", b"203.0.113.9")],
    }
    await layer(scope, None, None)
    assert seen == ["203.0.113.9"]
