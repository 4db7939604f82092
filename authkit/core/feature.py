"""Feature: what one capability adds to the application, declared as one value.

The application is the sum of its features: `create_app` builds each capability's
(passwords, sessions, users, operations) and each plugin strategy's that has one, then
loops over them: their routes are served, their indexes built at start-up, their
readiness checks answered by `/readyz`, their shutdown hooks run at exit. Nothing in the
loop knows a capability by name, so a new one (social sign-in, accounts) is one more
`Feature` in the list, and a plugin adds routes and indexes the same way.

Example (a plugin strategy that keeps API keys in a collection of its own):

    class APIKeyStrategy:
        name = "apikey"
        def feature(self) -> Feature:
            return Feature("apikey", routes=api_key_routes(self.store),
                           indexes=[self.store.ensure_indexes])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
from starlette.routing import BaseRoute

__all__ = ["AllowsAnonymous", "Check", "DescribesSecurity", "Feature", "ProvidesFeature"]

Check = Callable[[], Awaitable[None]]


@attrs.frozen
class Feature:
    name: str
    routes: Sequence[BaseRoute] = ()
    # Built at start-up, in order. A database that does not answer yet does not stop
    # start-up: each index is also made before the first write that needs it.
    indexes: Sequence[Check] = ()
    # `/readyz` runs each (name -> check); a check raises HTTPError when not ready.
    readiness: Mapping[str, Check] = attrs.field(factory=dict)
    # Run once when the application stops, in order.
    on_shutdown: Sequence[Callable[[], None]] = ()


@runtime_checkable
class ProvidesFeature(Protocol):
    """A strategy that brings more than authentication: routes, indexes, checks."""

    def feature(self) -> Feature: ...


@runtime_checkable
class DescribesSecurity(Protocol):
    """A strategy whose credential a client presents on its own (bearer token, API key,
    basic): its OpenAPI security scheme, listed in /openapi.json and offered by /docs."""

    openapi_scheme: ClassVar[Mapping[str, Any]]


@runtime_checkable
class AllowsAnonymous(Protocol):
    """A strategy that lets a caller in with no credential at all (`anonymous`): a route it
    guards is documented as open to anonymous callers too."""

    openapi_allows_anonymous: ClassVar[bool]
