"""DatabaseBreaker: once the database is known to be down, answer 503 at once.

Without it every request during an outage waits out pymongo's timeouts (server
selection, 3 s; any operation, 5 s) before its 503, and holds a worker thread while
it waits. A call that fails for want of a server (pymongo's `ConnectionFailure`)
makes the breaker *suspect* the database: a background thread pings it at once. If
that ping fails too, the database is known down and the breaker opens: every
`call_database` made under it answers `BackendUnavailable` without trying. The
thread keeps pinging, every `interval`, each ping bounded by `probe_timeout`; the
first one that succeeds closes the breaker, so requests are served again within
about `interval + probe_timeout` of the database's return. A blip that one ping
survives (a dropped connection, a replica-set election) never opens it. The driver's
own monitor suspects it too (`HeartbeatWatch`): when its heartbeat to the server
fails, the probe starts, and the outage is known before a request pays a timeout.

The breaker of the running request is in a context variable (`REQUEST_BREAKER`,
set by the request observer around each request), so each application has its own and work outside a
request (start-up, commands) goes straight to the database.

Example:

    breaker = DatabaseBreaker(lambda: db.command("ping"))
    token = REQUEST_BREAKER.set(breaker)  # what the request observer does around each request
    ...  # call_database(...): BackendUnavailable at once while breaker.is_open
    REQUEST_BREAKER.reset(token)
    breaker.close()  # stops the probe, at shutdown
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar

import pymongo
from pymongo import monitoring
from pymongo.errors import PyMongoError

__all__ = [
    "REQUEST_BREAKER",
    "DatabaseBreaker",
    "HeartbeatWatch",
    "current_breaker",
]

logger = logging.getLogger("authkit.database")

# The breaker of the request being served: the request observer sets it around each request
# (authkit.ops.observer), so each application has its own.
REQUEST_BREAKER: ContextVar[DatabaseBreaker | None] = ContextVar("authkit_breaker", default=None)


class DatabaseBreaker:
    def __init__(
        self,
        probe: Callable[[], object],
        *,
        interval: float = 0.25,
        probe_timeout: float = 1.0,
    ) -> None:
        self._probe = probe
        self.interval = interval
        self.probe_timeout = probe_timeout
        self._open = False
        self._lock = threading.Lock()
        self._prober: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def is_open(self) -> bool:
        """True while the database is known down: calls fail at once."""
        return self._open

    @property
    def probing(self) -> bool:
        """True while a background probe runs (the database is suspected or known down)."""
        return self._prober is not None

    def suspect(self) -> None:
        """A call failed for want of a server: find out, in the background, whether it is down."""
        with self._lock:
            if self._prober is not None or self._stopped.is_set():
                return
            self._prober = threading.Thread(
                target=self._probe_until_back, name="authkit-db-probe", daemon=True
            )
            self._prober.start()

    def close(self) -> None:
        """Stop probing (at shutdown); a later failure starts again."""
        self._stopped.set()
        with self._lock:
            prober = self._prober
        if prober is not None:
            prober.join(timeout=self.probe_timeout + self.interval)
        self._stopped.clear()

    def _reachable(self) -> bool:
        try:
            with pymongo.timeout(self.probe_timeout):
                self._probe()
        except PyMongoError:
            return False
        return True

    def _probe_until_back(self) -> None:
        try:
            while not self._reachable():
                if not self._open:
                    self._open = True
                    logger.error(
                        "database unreachable: answering 503 at once until a probe reaches it"
                    )
                if self._stopped.wait(self.interval):
                    return
            if self._open:
                logger.warning("database reachable again: serving")
        finally:
            with self._lock:
                self._open = False
                self._prober = None


class HeartbeatWatch(monitoring.ServerHeartbeatListener):
    """Tells a breaker when the driver's own monitor loses the server: the breaker then
    knows of an outage before any request has to wait out a timeout to find it.

    Given to the client when it is made (`open_client(uri, listeners=[watch])`); the breaker
    comes later (`watch.breaker = breaker`), since it probes through that client.
    """

    def __init__(self) -> None:
        self.breaker: DatabaseBreaker | None = None

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        if self.breaker is not None:
            self.breaker.suspect()


def current_breaker() -> DatabaseBreaker | None:
    """The breaker of the request being served (None outside one)."""
    return REQUEST_BREAKER.get()
