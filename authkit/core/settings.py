"""The plugins settings section: strategies loaded by dotted path."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Env

__all__ = ["PluginSettings"]


@attrs.frozen
class PluginSettings:
    # Dotted paths, `package.module:Class`, loaded after the entry points.
    strategies: Annotated[
        tuple[str, ...],
        Env(
            "AUTHKIT_STRATEGIES",
            "comma-separated `package.module:Class` strategies to load beside the installed "
            "ones (for strategies that are not packaged)",
            "(none)",
        ),
    ] = ()
