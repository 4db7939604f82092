"""The plugins settings section: strategies loaded by dotted path."""

from __future__ import annotations

import attrs

__all__ = ["PluginSettings"]


@attrs.frozen
class PluginSettings:
    # Dotted paths, `package.module:Class`, loaded after the entry points.
    strategies: tuple[str, ...] = ()
