"""StrategyRegistry: name -> strategy, filled from entry points once at start-up.

Example:

    registry = StrategyRegistry()
    registry.load_entry_points(ctx)        # every `authkit.strategies` entry point
    registry.use(MyStrategy())             # or one by hand
    registry.get("jwt")                    # UnknownStrategyError lists the known names
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from authkit.errors import DuplicateStrategyError, RegistryError, UnknownStrategyError
from authkit.strategy import Strategy, StrategyContext

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

    def load_entry_points(self, ctx: StrategyContext, group: str = ENTRY_POINT_GROUP) -> int:
        """Build and register every strategy declared in `group`; returns how many."""
        return self._load(entry_points(group=group), ctx)

    def _load(self, found: Iterable[EntryPoint], ctx: StrategyContext) -> int:
        loaded = 0
        for ep in found:
            try:
                factory: Any = ep.load()
            except Exception as exc:
                raise RegistryError(
                    f"strategy plugin {ep.name!r} ({ep.value}) failed to import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            try:
                strategy = (
                    factory.from_context(ctx) if hasattr(factory, "from_context") else factory
                )
            except Exception as exc:
                raise RegistryError(
                    f"strategy plugin {ep.name!r} ({ep.value}) failed to build: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if getattr(strategy, "name", None) != ep.name:
                raise RegistryError(
                    f"entry point {ep.name!r} ({ep.value}) builds a strategy named "
                    f"{getattr(strategy, 'name', None)!r}; the two names must match"
                )
            self.use(strategy)
            loaded += 1
        return loaded
