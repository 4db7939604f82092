"""The sessions capability as a Feature: refresh, sign-out and the sessions routes, and
the indexes of the session store and of the revocation list when they are in use."""

from __future__ import annotations

from authkit.core.feature import Check, Feature
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.revocation import MongoDenylist
from authkit.sessions.routes import RefreshDelivery, token_routes
from authkit.sessions.store import MongoSessionStore

__all__ = ["sessions_feature"]


def sessions_feature(
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    store: MongoSessionStore | None,
    denylist: MongoDenylist | None,
    *,
    max_body_bytes: int,
) -> Feature:
    indexes: list[Check] = []
    if store is not None:
        indexes.append(store.ensure_indexes)
    if denylist is not None:
        indexes.append(denylist.ensure_indexes)
    return Feature(
        "sessions", routes=token_routes(lifecycle, delivery, max_body_bytes), indexes=indexes
    )
