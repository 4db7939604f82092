"""GET /docs: Swagger UI over /openapi.json, its files served by authkit itself.

The assets come from the `swagger-ui-bundle` package, so the page works with no
network at all: no CDN, nothing fetched from elsewhere. Only the files the page uses are
served: the package's folder also holds Swagger UI's stock page, which loads the petstore
demo from the internet, and its OAuth redirect page. The page's Content-Security-Policy
lets it load nothing but those files and this origin's API, run no script but theirs and
its own, and be framed by no one (clickjacking a "Try it out" button).

Example:

    routes += docs_routes(openapi_url="/openapi.json")
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from swagger_ui_bundle import swagger_ui_path

from authkit.http.endpoint import Endpoint

__all__ = ["docs_routes"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>authkit API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: %s,
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "BaseLayout",
      deepLinking: true,
      persistAuthorization: false
    });
  </script>
</body>
</html>
"""


# What the page above loads, and nothing else of the package's folder.
ASSETS = (
    "swagger-ui.css",
    "favicon-32x32.png",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
)


def content_security_policy(page: str) -> str:
    """The policy for `page`: its inline script by hash, everything else from this origin.

    Swagger UI sets inline styles and shows its logo as a data: image; it fetches the
    document and runs "Try it out" against this origin only.
    """
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def docs_routes(openapi_url: str = "/openapi.json") -> list[BaseRoute]:
    page = _PAGE % json.dumps(openapi_url)
    headers = {"Content-Security-Policy": content_security_policy(page), "X-Frame-Options": "DENY"}
    folder = Path(swagger_ui_path)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise HTTPException(404)  # answered as any unknown path is
        return FileResponse(folder / name)

    return [
        Route("/docs", Endpoint(docs), methods=["GET"], include_in_schema=False),
        Route("/docs/static/{name}", Endpoint(asset), methods=["GET"], include_in_schema=False),
    ]
