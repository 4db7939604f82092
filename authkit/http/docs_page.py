"""GET /docs: Swagger UI over /openapi.json, its files served by authkit itself.

The assets come from the `swagger-ui-bundle` package, so the page works with no
network at all: no CDN, nothing fetched from elsewhere.

Example:

    routes += docs_routes(openapi_url="/openapi.json")
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
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


def docs_routes(openapi_url: str = "/openapi.json") -> list[BaseRoute]:
    page = _PAGE % json.dumps(openapi_url)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    return [
        Route("/docs", Endpoint(docs), methods=["GET"], include_in_schema=False),
        Mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="docs-static"),
    ]
