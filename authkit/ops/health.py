"""Liveness and readiness, the way load balancers and Kubernetes probe them.

- `GET /healthz`: the process is alive and its event loop answers. No I/O, so
  a database outage never gets a healthy process restarted.
- `GET /readyz`: every readiness check passes (for authkit: the database
  answers and the unique index on `username` exists). 200 when ready, 503
  with the failing checks named otherwise, so traffic is routed elsewhere
  until it recovers.

Example:

    routes += health_routes({"database": store.ensure_ready})
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.core.errors import HTTPError
from authkit.http.endpoint import Endpoint
from authkit.http.responses import JSON

__all__ = ["ReadinessCheck", "health_routes"]

ReadinessCheck = Callable[[], Awaitable[None]]


def health_routes(checks: Mapping[str, ReadinessCheck]) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSON({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(request: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except HTTPError as exc:
                results[name] = exc.message if isinstance(exc.message, str) else "failed"
        ready = all(result == "ok" for result in results.values())
        return JSON(
            {"status": "ok" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route("/healthz", Endpoint(healthz), methods=["GET"], include_in_schema=False),
        Route("/readyz", Endpoint(readyz), methods=["GET"], include_in_schema=False),
    ]
