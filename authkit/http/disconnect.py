"""Whether a request's client is still there: work nobody will read is skipped.

uvicorn does not cancel an endpoint whose client hung up; it only answers the
endpoint's next `receive()` with `http.disconnect`. Once the body is read, nothing
else arrives on that channel, so waiting on it is waiting for the client to leave.

Example:

    from authkit.passwords.hasher import PasswordHasher

    client = ClientConnection(request)
    digest = await PasswordHasher(4).hash("correct horse", unless=client.gone)  # not if gone
    assert not await client.has_gone()  # checked again before anything is written
"""

from __future__ import annotations

import asyncio

import attrs
from starlette.requests import Request

__all__ = ["ClientConnection"]


@attrs.frozen
class ClientConnection:
    request: Request

    async def gone(self) -> None:
        """Return once the client has closed its connection (the body must have been read)."""
        while (await self.request.receive())["type"] != "http.disconnect":
            pass  # a body chunk nobody read: the client is still there

    async def has_gone(self) -> bool:
        """Whether the client closed its connection already; never waits for it."""
        # One turn of the event loop first: a client that sent its request and hung up at
        # once has its hang-up read by the server in that turn, not after work has begun.
        await asyncio.sleep(0)
        return await self.request.is_disconnected()
