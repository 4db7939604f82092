"""StrategyRegistry: name -> strategy, filled once at start-up from two places.

1. entry points in the `authkit.strategies` group: the one way an installed package,
   authkit's own built-ins included, declares a strategy;
2. dotted paths, `package.module:Class`, listed in the AUTHKIT_STRATEGIES setting, for a
   strategy that is not packaged (a module of your application).

Two strategies with one name, or a plugin that fails to import or to build, stop
start-up with an error naming the plugin and where it came from.

Example:

    from authkit.strategies.local import LocalStrategy

    registry = StrategyRegistry()
    registry.load_entry_points(ctx)                 # every `authkit.strategies` entry point
    registry.get("jwt")                             # UnknownStrategyError lists the names

    mine = StrategyRegistry()
    mine.load_paths(["authkit.strategies.jwt:JWTStrategy"], ctx)   # package.module:Class
    mine.use(LocalStrategy(service))                # or one by hand
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from authkit.core.errors import DuplicateStrategyError, RegistryError, UnknownStrategyError
from authkit.core.feature import DescribesSecurity, Feature, ProvidesFeature
from authkit.core.strategy import Strategy, StrategyContext

__all__ = ["ENTRY_POINT_GROUP", "StrategyRegistry"]

ENTRY_POINT_GROUP = "authkit.strategies"


class StrategyRegistry:
    def __init__(self) -> None:
        self._strategies: dict[str, Strategy] = {}

    def use(self, strategy: Strategy) -> None:
        name = getattr(strategy, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{strategy!r} has no `name` (a non-empty str class attribute)")
        if name in self._strategies:
            raise DuplicateStrategyError(name, self._strategies[name], strategy)
        self._strategies[name] = strategy

    def get(self, name: str) -> Strategy:
        try:
            return self._strategies[name]
        except KeyError:
            raise UnknownStrategyError(name, list(self._strategies)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._strategies

    def __iter__(self) -> Iterator[str]:
        return iter(self._strategies)

    def credential_headers(self) -> list[str]:
        """Request headers that carry a credential, from each strategy's `openapi_scheme`
        (an API key's `X-API-Key`, say): what CORS must let a browser send."""
        headers = []
        for strategy in self._strategies.values():
            if not isinstance(strategy, DescribesSecurity):
                continue
            scheme = strategy.openapi_scheme
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                headers.append(str(scheme["name"]))
        return headers

    def features(self) -> list[Feature]:
        """What the registered strategies add to the application besides authentication."""
        return [s.feature() for s in self._strategies.values() if isinstance(s, ProvidesFeature)]

    def load_entry_points(self, ctx: StrategyContext, group: str = ENTRY_POINT_GROUP) -> int:
        """Build and register every strategy declared in `group`; returns how many."""
        return self._load(entry_points(group=group), ctx)

    def _load(self, found: Iterable[EntryPoint], ctx: StrategyContext) -> int:
        loaded = 0
        for ep in found:
            origin = f"strategy plugin {ep.name!r} ({ep.value})"
            try:
                factory: Any = ep.load()
            except Exception as exc:
                raise RegistryError(
                    f"{origin} failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            strategy = self._build(factory, ctx, origin)
            if getattr(strategy, "name", None) != ep.name:
                raise RegistryError(
                    f"entry point {ep.name!r} ({ep.value}) builds a strategy named "
                    f"{getattr(strategy, 'name', None)!r}; the two names must match"
                )
            loaded += self._add(strategy)
        return loaded

    def load_paths(self, paths: Sequence[str], ctx: StrategyContext) -> int:
        """Build and register each `module:attribute` in `paths` (AUTHKIT_STRATEGIES)."""
        loaded = 0
        for path in paths:
            origin = f"strategy {path!r} (from AUTHKIT_STRATEGIES)"
            module_name, colon, attribute = path.partition(":")
            if not colon or not module_name or not attribute:
                raise RegistryError(f"{origin} is not of the form package.module:Class")
            try:
                factory = getattr(importlib.import_module(module_name), attribute)
            except Exception as exc:
                raise RegistryError(
                    f"{origin} failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            loaded += self._add(self._build(factory, ctx, origin))
        return loaded

    @staticmethod
    def _build(factory: Any, ctx: StrategyContext, origin: str) -> Strategy:
        try:
            strategy = factory.from_context(ctx) if hasattr(factory, "from_context") else factory
        except Exception as exc:
            raise RegistryError(f"{origin} failed to build: {type(exc).__name__}: {exc}") from exc
        if not isinstance(getattr(strategy, "name", None), str) or not callable(
            getattr(strategy, "authenticate", None)
        ):
            raise RegistryError(f"{origin} is not a strategy: it needs `name` and `authenticate`")
        return strategy  # type: ignore[no-any-return]

    def _add(self, strategy: Strategy) -> int:
        existing = self._strategies.get(strategy.name)
        if existing is not None and type(existing) is type(strategy):
            # One class reached twice: its package's entry point and AUTHKIT_STRATEGIES
            # (a source tree on PYTHONPATH with its egg-info beside it). Once is enough.
            return 0
        self.use(strategy)
        return 1
