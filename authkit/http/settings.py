"""The HTTP settings sections: where the server listens, which proxies it trusts, how long a
client may take to send a request, body size, CORS."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Env, Range
from authkit.http.client_address import ProxyNetworks

__all__ = ["CORSSettings", "ServerSettings"]


@attrs.frozen
class ServerSettings:
    host: Annotated[
        str,
        Env(
            "HOST",
            "interface `authkit serve` listens on (`0.0.0.0` in a container); bare uvicorn "
            "takes `--host`",
        ),
    ] = "127.0.0.1"
    port: Annotated[
        int,
        Range(1, 65535),
        Env("PORT", "port `authkit serve` listens on; bare uvicorn takes `--port`"),
    ] = 3000
    trusted_proxies: Annotated[
        ProxyNetworks,
        Env(
            "AUTHKIT_TRUSTED_PROXIES",
            "comma-separated addresses or CIDR networks of the proxies whose "
            "`X-Forwarded-For`/`-Proto` `authkit serve` believes; bare uvicorn takes "
            "`--forwarded-allow-ips`",
            "(none: the TCP peer is the client)",
        ),
    ] = ()
    receive_timeout: Annotated[
        int,
        Range(1, 300),
        Env(
            "AUTHKIT_RECEIVE_TIMEOUT",
            "seconds `authkit serve` gives a client to send a whole request (headers and "
            "body) once it connects or starts one; then it closes the connection",
        ),
    ] = 10
    public_url: Annotated[
        str | None,
        Env(
            "AUTHKIT_PUBLIC_URL",
            "the base URL clients reach this service at (`https://auth.example.com`); "
            "social sign-in's callbacks and the links in mail are built from it, never from "
            "the Host header",
            "(unset: routes that send mail answer 503; with providers configured, the start stops)",
        ),
    ] = None
    max_body_bytes: Annotated[
        int,
        Range(256, 64 * 1024 * 1024),
        Env("AUTHKIT_MAX_BODY_BYTES", "larger request bodies get 413 before they are read in full"),
    ] = 16 * 1024


@attrs.frozen
class CORSSettings:
    """Browser access from other origins; off (no origins) by default."""

    origins: Annotated[
        tuple[str, ...],
        Env(
            "AUTHKIT_CORS_ORIGINS",
            "comma-separated origins allowed to call from browsers",
            "(none: CORS off)",
        ),
    ] = ()
    allow_credentials: Annotated[
        bool,
        Env("AUTHKIT_CORS_CREDENTIALS", "allow cookies/credentials (explicit origins only)"),
    ] = False
