"""StrategyRegistry: name -> strategy, filled once at start-up from three places.

1. entry points in the `authkit.strategies` group (an installed package declares one);
2. dotted paths, `package.module:Class`, listed in the AUTHKIT_STRATEGIES setting;
3. modules dropped into a package folder (the project's `strategies/`): every class
   defined there with a `name`, `authenticate` and `from_context` is a strategy.

A class met twice (an entry point and its own module in the folder) counts once; two
different strategies with one name, or a plugin that fails to import or to build,
stop start-up with an error naming the plugin and where it came from.

Example:

    registry = StrategyRegistry()
    registry.load_entry_points(ctx)                 # every `authkit.strategies` entry point
    registry.load_paths(["mypkg.auth:HeaderStrategy"], ctx)
    registry.load_package("strategies", ctx)
    registry.use(MyStrategy())                      # or one by hand
    registry.get("jwt")                             # UnknownStrategyError lists the names
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from authkit.core.errors import DuplicateStrategyError, RegistryError, UnknownStrategyError
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
            scheme = getattr(strategy, "openapi_scheme", None) or {}
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                headers.append(str(scheme["name"]))
        return headers

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

    def load_package(self, package: str, ctx: StrategyContext) -> int:
        """Register the strategy classes defined in the modules of `package` (e.g. strategies/)."""
        try:
            root = importlib.import_module(package)
        except ModuleNotFoundError:
            return 0
        loaded = 0
        for info in pkgutil.iter_modules(getattr(root, "__path__", [])):
            module_name = f"{package}.{info.name}"
            origin = f"strategy module {module_name!r} (in the {package}/ folder)"
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                raise RegistryError(
                    f"{origin} failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module_name and _looks_like_a_strategy(cls):
                    loaded += self._add(self._build(cls, ctx, f"{origin}, class {cls.__name__}"))
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
            return 0  # the same class reached twice (entry point and folder): once is enough
        self.use(strategy)
        return 1


def _looks_like_a_strategy(cls: type) -> bool:
    return (
        isinstance(getattr(cls, "name", None), str)
        and callable(getattr(cls, "authenticate", None))
        and callable(getattr(cls, "from_context", None))
    )
