"""Operations as a Feature: /healthz and /readyz (running every feature's readiness
checks), the /docs page, and /metrics when metrics are on.

/metrics answers only a scraper that presents the metrics token: the counts say, among
other things, why forged tokens were refused (`authkit_tokens_rejected{reason}`),
which an anonymous caller must not learn (docs/security.md). Without a token
configured it refuses everyone.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from authkit.core.errors import AuthenticationFailed
from authkit.core.feature import Check, Feature
from authkit.core.values import Secret
from authkit.http.docs_page import docs_routes
from authkit.http.endpoint import Endpoint
from authkit.http.headers import first_header
from authkit.http.responses import http_error_response
from authkit.ops.health import health_routes
from authkit.ops.metrics import CONTENT_TYPE, Metrics, NoMetrics

__all__ = ["operations_feature"]


_REFUSED = AuthenticationFailed(challenges=['Bearer realm="metrics"'])


def operations_feature(
    readiness: Mapping[str, Check], metrics: NoMetrics, metrics_token: Secret | None = None
) -> Feature:
    routes: list[BaseRoute] = [*health_routes(readiness), *docs_routes("/openapi.json")]
    if isinstance(metrics, Metrics):
        routes.append(_metrics_route(metrics, metrics_token))
    return Feature("operations", routes=routes)


def _presents(scope: Scope, token: Secret | None) -> bool:
    if token is None:
        return False
    parts = (first_header(scope, b"authorization") or "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return False
    # Constant time: a scraper's token must not be guessable a character at a time.
    return hmac.compare_digest(parts[1].encode(), token.value.encode())


def _metrics_route(metrics: Metrics, token: Secret | None) -> BaseRoute:
    async def exposition(request: Request) -> Response:
        if not _presents(request.scope, token):
            return http_error_response(_REFUSED)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return Route("/metrics", Endpoint(exposition), methods=["GET"], include_in_schema=False)
