"""The lifecycle events settings section: how many events may wait, how long a handler runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.values import Env, Range

__all__ = ["EventSettings"]


@attrs.frozen
class EventSettings:
    """Lifecycle events (docs/accounts.md, "Lifecycle events")."""

    queue_size: Annotated[
        int,
        Range(1, 1_000_000),
        Env(
            "AUTHKIT_EVENT_QUEUE",
            "events that may wait for their handlers; beyond it an event is dropped and "
            "logged, never waited for by the request",
        ),
    ] = 1000
    handler_timeout: Annotated[
        timedelta,
        Env(
            "AUTHKIT_EVENT_HANDLER_TIMEOUT",
            "how long one handler may take for one event before it is cancelled and logged",
        ),
    ] = timedelta(seconds=10)
