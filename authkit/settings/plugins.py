"""Settings sections that plugins declare, found through the `authkit.settings` entry points.

A plugin names an attrs class whose fields carry `Env(...)` annotations, exactly like
authkit's own sections:

    [project.entry-points."authkit.settings"]
    header = "authkit_header.settings:HeaderSettings"

The loader then reads its variables from the environment and `.env` with authkit's
converter and messages (an unknown `AUTHKIT_*` name is still refused, a plugin's own are
not), `authkit check` lists them, and the plugin's strategy reads its section with
`ctx.settings.section(HeaderSettings)`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import attrs

from authkit.core.errors import ConfigError
from authkit.settings.catalog import Entry, catalog, entries_of

__all__ = ["SETTINGS_GROUP", "PluginSection", "plugin_sections"]

SETTINGS_GROUP = "authkit.settings"


@attrs.frozen
class PluginSection:
    name: str
    cls: type
    entries: tuple[Entry, ...]


def plugin_sections() -> list[PluginSection]:
    """Every section the installed plugins declare; ConfigError names a broken one."""
    taken = {entry.env.name: "authkit" for entry in catalog()}
    found = []
    for ep in entry_points(group=SETTINGS_GROUP):
        origin = f"settings plugin {ep.name!r} ({ep.value})"
        try:
            cls = ep.load()
            if not attrs.has(cls):
                raise TypeError("it is not an attrs class")
            entries = tuple(entries_of(cls, ep.name))
        except Exception as exc:
            raise ConfigError(f"{origin} is unusable: {type(exc).__name__}: {exc}") from exc
        for entry in entries:
            if entry.env.name in taken:
                raise ConfigError(
                    f"{origin} declares {entry.env.name}, which {taken[entry.env.name]} reads"
                )
            taken[entry.env.name] = origin
        found.append(PluginSection(ep.name, cls, entries))
    return found
