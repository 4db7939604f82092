"""The handlers installed packages subscribe through the `authkit.events` entry points.

An entry point names either an async handler, `async def handler(event: Event) -> None`,
or a factory that the application calls once with its `StrategyContext` (the database, the
settings, ...) and that returns such a handler:

    [project.entry-points."authkit.events"]
    welcome = "my_plugin.events:welcome"                # async def welcome(event)
    audit = "my_plugin.events:audit_to_collection"      # def audit_to_collection(ctx)

One that cannot be loaded stops the start with its name: an audit handler that silently
went missing would be worse than no start.
"""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points

from authkit.core.errors import ConfigError
from authkit.core.strategy import StrategyContext
from authkit.events.bus import Handler

__all__ = ["EVENTS_GROUP", "load_handlers"]

EVENTS_GROUP = "authkit.events"


def load_handlers(ctx: StrategyContext) -> list[Handler]:
    """Every installed handler, in the order of their entry points' names."""
    found: list[Handler] = []
    for ep in sorted(entry_points(group=EVENTS_GROUP), key=lambda e: e.name):
        origin = f"event handler {ep.name!r} ({ep.value})"
        try:
            target = ep.load()
            handler = target if inspect.iscoroutinefunction(target) else target(ctx)
        except Exception as exc:
            raise ConfigError(f"{origin} is unusable: {type(exc).__name__}: {exc}") from exc
        if not inspect.iscoroutinefunction(handler) and not callable(handler):
            raise ConfigError(f"{origin} is unusable: it is not an async handler or a factory")
        found.append(handler)
    return found
