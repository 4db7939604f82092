"""A GitHub-shaped OAuth 2 server: its authorize page (which consents at once), its token
endpoint, `GET /user` and `GET /user/emails`, as GitHub answers them.

It checks what GitHub checks (client id and secret, the redirect URI, a code used once) and
PKCE S256 on top, so a client that forgets the verifier fails here. `user` and `emails` say
who signs in next; `mode` makes it misbehave: `deny` (the user refuses consent), `garbage`
(HTML where JSON belongs), `down` (500 from every API).

Example:

    fake = GitHubFake(client_id="cid", client_secret="csecret")
    client = fake.client_config("http://github.fake")   # the provider's settings, pointed here
    transport = httpx2.ASGITransport(app=fake.app)   # in-process, for unit tests
    # or serve fake.app with uvicorn on 127.0.0.1 for end-to-end tests
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from authkit.core.values import Secret
from authkit.social.settings import ProviderConfig


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@attrs.define
class GitHubFake:
    client_id: str = "fake-client"
    client_secret: str = "fake-secret"
    user: dict[str, Any] = attrs.field(
        factory=lambda: {"id": 4242, "login": "octocat", "name": "The Octocat"}
    )
    emails: list[dict[str, Any]] = attrs.field(
        factory=lambda: [
            {"email": "octo@example.com", "primary": True, "verified": True, "visibility": None}
        ]
    )
    mode: str | None = None
    codes: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def client_config(
        self, base: str, name: str = "github", kind: str = "github"
    ) -> ProviderConfig:
        """A GitHub-kind provider's settings (or a plugin's `kind`) with this fake's client,
        its API and pages at `base`."""
        return ProviderConfig(
            name=name,
            kind=kind,
            client_id=self.client_id,
            client_secret=Secret(self.client_secret),
            api_url=base,
            authorize_url=f"{base}/login/oauth/authorize",
            token_url=f"{base}/login/oauth/access_token",
        )

    tokens: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    # What the authorize endpoint was asked, last: tests read PKCE and scope off it.
    last_authorize: dict[str, str] = attrs.field(factory=dict)
    token_requests: int = 0

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/login/oauth/authorize", self.authorize, methods=["GET"]),
                Route("/login/oauth/access_token", self.token, methods=["POST"]),
                Route("/user", self.get_user, methods=["GET"]),
                Route("/user/emails", self.get_emails, methods=["GET"]),
            ]
        )

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.last_authorize = query
        if query.get("client_id") != self.client_id or "redirect_uri" not in query:
            return HTMLResponse("The redirect_uri is not associated with this application.", 400)
        back = query["redirect_uri"]
        if self.mode == "deny":
            params = {"error": "access_denied", "state": query.get("state", "")}
            return RedirectResponse(f"{back}?{urlencode(params)}", 302)
        code = secrets.token_hex(10)
        self.codes[code] = {
            "redirect_uri": back,
            "challenge": query.get("code_challenge"),
            "method": query.get("code_challenge_method"),
            "user": dict(self.user),
            "emails": [dict(e) for e in self.emails],
        }
        params = {"code": code, "state": query.get("state", "")}
        return RedirectResponse(f"{back}?{urlencode(params)}", 302)

    def _client_of(self, request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        if self.mode == "garbage":
            return HTMLResponse("<html>Unicorn! We're having a really bad day.</html>", 200)
        if self.mode == "down":
            return HTMLResponse("<html>500</html>", 500)
        # Parsed by hand: Starlette's form parser needs python-multipart.
        form = dict(parse_qsl((await request.body()).decode()))
        client_id, secret = self._client_of(request, form)
        if client_id != self.client_id or secret != self.client_secret:
            return JSONResponse({"error": "incorrect_client_credentials"})
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse({"error": "bad_verification_code"})
        verifier = form.get("code_verifier")
        if grant["method"] != "S256" or verifier is None or s256(verifier) != grant["challenge"]:
            return JSONResponse({"error": "bad_verification_code", "error_description": "PKCE"})
        access = "gho_" + secrets.token_hex(16)
        self.tokens[access] = grant
        return JSONResponse({"access_token": access, "token_type": "bearer", "scope": "user:email"})

    def _grant(self, request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return self.tokens.get(value) if scheme.lower() in ("bearer", "token") else None

    async def get_user(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse(grant["user"])

    async def get_emails(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse(grant["emails"])
