"""The application `authkit serve` runs (`authkit.asgi:app`), and `serving()`, which
builds any application the way a server process must: settings loaded, logging set up, and
a configuration error reported in one line instead of a traceback.

`app` is built the first time it is looked up, in each worker process, from the environment
and `./.env`: this is the CLI's entry, one of the two kinds of place allowed to read them
(the other is an application's own composition root, such as the repository's `app.py`).

Example (an app.py of your own):

    from authkit import load_settings, serving

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    app = serving(lambda: load_settings(os.environ, Path(".env")), routes=[Route("/hello", hello)])
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from authkit.application import create_app
from authkit.core.errors import AuthkitError, ConfigError
from authkit.ops.logs import configure_logging
from authkit.settings.loader import load_settings
from authkit.settings.model import Settings

__all__ = ["serving"]


def serving(load: Callable[[], Settings], *, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """`create_app(load(), routes=routes)` with logging configured; exits with one line
    (`authkit: cannot start: ...`) when the settings or the plugins are unusable."""
    try:
        settings = load()
        configure_logging(settings.observability.log_format, settings.observability.log_level)
        return create_app(settings, routes=routes)
    except ConfigError as exc:
        sys.exit(f"authkit: cannot start: {exc}")
    except AuthkitError as exc:
        sys.exit(f"authkit: cannot start: {type(exc).__name__}: {exc}")


def __getattr__(name: str) -> Any:
    if name == "app":
        app = serving(lambda: load_settings(os.environ, Path(".env")))
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
