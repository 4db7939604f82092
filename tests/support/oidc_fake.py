"""A small OpenID provider for unit tests: discovery, JWKS, an authorize endpoint that
consents at once, a token endpoint that checks PKCE and signs an `id_token`, and userinfo.

It is no certified provider (h17-oidc's tests run `oidc-provider` for that); it exists to
make id_tokens that are wrong in one way each (`spoil`), to rotate its key (`rotate`), and
to count what it is asked (`hits`).

Example:

    fake = OIDCFake(issuer="http://idp.fake")
    transport = httpx2.ASGITransport(app=fake.app)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


@attrs.define
class OIDCFake:
    issuer: str = "http://idp.fake"
    client_id: str = "oidc-client"
    client_secret: str = "oidc-secret"
    subject: str = "user-1"
    claims: dict[str, Any] = attrs.field(
        factory=lambda: {"email": "ada@example.com", "email_verified": True}
    )
    # What userinfo says beside `sub`; None: the same as `claims`.
    userinfo_claims: dict[str, Any] | None = None
    # One of: None, "signature", "aud", "nonce", "no_nonce", "expired", "iss".
    spoil: str | None = None
    # RFC 9207: "send" the iss parameter, "wrong" one, or None (and say nothing in metadata).
    iss_parameter: str | None = None
    # The discovery document's issuer, when it should differ from `issuer`.
    metadata_issuer: str | None = None
    key: RSAKey = attrs.field(factory=lambda: _key("k1"))
    published: list[RSAKey] = attrs.field(factory=list)
    codes: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    hits: Counter[str] = attrs.field(factory=Counter)

    def __attrs_post_init__(self) -> None:
        self.published = [self.key]

    def rotate(self) -> None:
        """Sign with a new key from now on, and publish it (beside the old) from now on."""
        self.key = _key(f"k{len(self.published) + 1}")
        self.published.append(self.key)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/userinfo", self.userinfo),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        self.hits["discovery"] += 1
        return JSONResponse(
            {
                "issuer": self.metadata_issuer or self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "id_token_signing_alg_values_supported": ["RS256"],
                "authorization_response_iss_parameter_supported": self.iss_parameter is not None,
            }
        )

    async def jwks(self, request: Request) -> Response:
        self.hits["jwks"] += 1
        return JSONResponse(KeySet(list(self.published)).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        code = secrets.token_hex(10)
        self.codes[code] = query
        params = {"code": code, "state": query.get("state", "")}
        if self.iss_parameter == "send":
            params["iss"] = self.issuer
        elif self.iss_parameter == "wrong":
            params["iss"] = "http://evil.fake"
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode(params)}", 302)

    async def token(self, request: Request) -> Response:
        self.hits["token"] += 1
        form = dict(parse_qsl((await request.body()).decode()))
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or asked.get("code_challenge") != _s256(form.get("code_verifier", "")):
            return JSONResponse({"error": "invalid_grant"}, 400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": asked.get("nonce"),
            **self.claims,
        }
        if self.spoil == "aud":
            claims["aud"] = "someone-else"
        elif self.spoil == "nonce":
            claims["nonce"] = "another-nonce"
        elif self.spoil == "no_nonce":
            del claims["nonce"]
        elif self.spoil == "expired":
            claims["exp"], claims["iat"] = now - 600, now - 900
        elif self.spoil == "iss":
            claims["iss"] = "http://evil.fake"
        key = _key(self.key.kid or "k1") if self.spoil == "signature" else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)
        return JSONResponse(
            {"access_token": secrets.token_hex(8), "token_type": "Bearer", "id_token": id_token}
        )

    async def userinfo(self, request: Request) -> Response:
        self.hits["userinfo"] += 1
        extra = self.claims if self.userinfo_claims is None else self.userinfo_claims
        return JSONResponse({"sub": self.subject, **extra})
