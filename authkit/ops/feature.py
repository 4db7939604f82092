"""Operations as a Feature: /healthz and /readyz (running every feature's readiness
checks), the /docs page, and /metrics when metrics are on."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authkit.core.feature import Check, Feature
from authkit.http.docs_page import docs_routes
from authkit.http.endpoint import Endpoint
from authkit.ops.health import health_routes
from authkit.ops.metrics import CONTENT_TYPE, Metrics, NoMetrics

__all__ = ["operations_feature"]


def operations_feature(readiness: Mapping[str, Check], metrics: NoMetrics) -> Feature:
    routes: list[BaseRoute] = [*health_routes(readiness), *docs_routes("/openapi.json")]
    if isinstance(metrics, Metrics):
        routes.append(_metrics_route(metrics))
    return Feature("operations", routes=routes)


def _metrics_route(metrics: Metrics) -> BaseRoute:
    async def exposition(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return Route("/metrics", Endpoint(exposition), methods=["GET"], include_in_schema=False)
