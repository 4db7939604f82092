"""The OpenAPI 3.0 document, built from the routes and the strategy registry.

An endpoint describes itself with `@describe(...)`; a strategy that a client
can present on its own (a bearer token, an API key) says how in an
`openapi_scheme` class attribute. Each guarded route then lists, as
alternatives, the schemes of the strategies its guard names.

Example:

    from authkit import guard
    from authkit.strategies.jwt import JWTStrategy

    @describe(operation_id="getMe", summary="Who am I", responses={200: json_response("You", {})})
    @guard("jwt")
    async def me(request): ...

    registry.use(JWTStrategy(issuer))
    document = openapi_document([Route("/auth/me", me)], registry)   # getMe: bearer auth
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from starlette.routing import BaseRoute, Route

from authkit.core.feature import AllowsAnonymous, DescribesSecurity
from authkit.core.guard import guards_in
from authkit.core.registry import StrategyRegistry

__all__ = [
    "ERROR_SCHEMA",
    "describe",
    "error_responses",
    "fields_body",
    "json_response",
    "openapi_document",
]

F = TypeVar("F", bound=Callable[..., Any])
_OPERATION_ATTRIBUTE = "__authkit_openapi__"
_ORDER_ATTRIBUTE = "__authkit_openapi_order__"
_described = itertools.count(1)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message", "statusCode"],
    "properties": {
        "message": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "error": {"type": "string"},
        "statusCode": {"type": "integer"},
    },
}
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"

_REASONS = {
    400: "The body is malformed or fails validation",
    401: "Not authenticated",
    403: "A required scope is missing, or a cross-site page asked for the refresh cookie",
    404: "Not found",
    409: "Conflict",
    413: "The body is larger than the configured cap",
    429: "Too many failed attempts; see Retry-After",
    503: "The user database is unreachable; retry later",
}


def error_responses(*statuses: int) -> dict[int, dict[str, Any]]:
    return {
        status: {
            "description": _REASONS[status],
            "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


def json_response(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A response whose body is JSON of `schema`."""
    return {"description": description, "content": {_JSON: {"schema": dict(schema)}}}


def fields_body(schema: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
    """A request body read by authkit.body.read_fields: JSON or an HTML form, one schema."""
    content = {_JSON: {"schema": dict(schema)}, _FORM: {"schema": dict(schema)}}
    return {"required": required, "content": content}


def describe(
    *,
    operation_id: str,
    summary: str,
    responses: Mapping[int, Mapping[str, Any]],
    request_body: Mapping[str, Any] | None = None,
    parameters: Iterable[Mapping[str, Any]] = (),
    tags: Iterable[str] = (),
) -> Callable[[F], F]:
    """Attach an OpenAPI operation to an endpoint (put it above `@guard`).

    `parameters` are OpenAPI Parameter Objects: a path template such as
    `/keys/{key_id}` must declare its `key_id` there.
    """

    def decorate(endpoint: F) -> F:
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "summary": summary,
            "responses": {str(code): dict(body) for code, body in responses.items()},
        }
        if request_body is not None:
            operation["requestBody"] = dict(request_body)
        if parameters:
            operation["parameters"] = [dict(p) for p in parameters]
        if tags:
            operation["tags"] = list(tags)
        setattr(endpoint, _OPERATION_ATTRIBUTE, operation)
        setattr(endpoint, _ORDER_ATTRIBUTE, next(_described))
        return endpoint

    return decorate


def openapi_document(
    routes: Iterable[BaseRoute], registry: StrategyRegistry, *, title: str = "authkit"
) -> dict[str, Any]:
    schemes: dict[str, Any] = {}
    anonymous: set[str] = set()
    for name in registry:
        strategy = registry.get(name)
        if isinstance(strategy, DescribesSecurity):
            schemes[name] = dict(strategy.openapi_scheme)
        if isinstance(strategy, AllowsAnonymous) and strategy.openapi_allows_anonymous:
            anonymous.add(name)
    # In the order the endpoints were described (written), not the order the router tries
    # them in, which puts the most requested first.
    routes = sorted(
        routes, key=lambda r: getattr(getattr(r, "endpoint", None), _ORDER_ATTRIBUTE, 0)
    )
    guards = {(path, method): rule for path, method, rule in guards_in(routes)}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        operation = getattr(route.endpoint, _OPERATION_ATTRIBUTE, None)
        if operation is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            described = dict(operation)
            rule = guards.get((route.path, method))
            if rule is not None:
                # Alternatives, as the chain tries them; the guard's scopes apply to each.
                security = [{n: list(rule.scopes)} for n in rule.names if n in schemes]
                if anonymous.intersection(rule.names):
                    # OpenAPI's empty requirement: the route also opens with no credential.
                    security.append({})
                if security:
                    described["security"] = security
                if rule.scopes:
                    described["responses"] = {**described["responses"], **error_responses(403)}
            paths.setdefault(route.path, {})[method.lower()] = described
    return {
        # 3.0.3: what the bundled Swagger UI (4.x) renders; nothing here needs 3.1.
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}, "securitySchemes": schemes},
    }
