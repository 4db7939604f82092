"""GET /account: one static page (HTML, a script, a style sheet) shipped in the package.

The page signs in (a password, then a second factor when asked, or a passkey alone) and
calls the API as any client would: sessions, TOTP, recovery codes, passkeys. It keeps the
access token in sessionStorage (gone with the tab) and the refresh token in memory only,
never in a URL. Its files are read once at start-up from the package; it loads nothing
from elsewhere, and it is served with /docs's Content-Security-Policy (no script but its
own file, no frame around it).

Example:

    routes += account_routes()
"""

from __future__ import annotations

from importlib import resources

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from authkit.core.feature import Feature
from authkit.http.docs_page import content_security_policy
from authkit.http.endpoint import Endpoint

__all__ = ["ASSETS", "account_feature", "account_routes"]

# The page's own files, by the name it asks for them with, and their media types.
ASSETS = {"account.js": "text/javascript", "account.css": "text/css"}


def _read(name: str) -> str:
    static = resources.files("authkit.account_page").joinpath("static")
    return static.joinpath(name).read_text("utf-8")


def account_routes() -> list[BaseRoute]:
    page = _read("account.html")
    assets = {name: (_read(name), kind) for name, kind in ASSETS.items()}
    headers = {
        "Content-Security-Policy": content_security_policy(page),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }

    async def account(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            raise HTTPException(404)  # answered as any unknown path is
        text, kind = found
        return Response(text, media_type=f"{kind}; charset=utf-8")

    return [
        Route("/account", Endpoint(account), methods=["GET"], include_in_schema=False),
        Route("/account/static/{name}", Endpoint(asset), methods=["GET"], include_in_schema=False),
    ]


def account_feature() -> Feature:
    return Feature("account", routes=account_routes())
