"""The users capability as a Feature: the unique username and verified-address indexes
(and the address keys repaired: authkit.users.email_keys), the canonical names given at
start to users that lack them, and the database check `/readyz` answers with."""

from __future__ import annotations

from authkit.core.feature import Feature
from authkit.users.store import MongoUserStore

__all__ = ["users_feature"]


def users_feature(users: MongoUserStore) -> Feature:
    return Feature(
        "users",
        indexes=[users.ensure_indexes, users.backfill_names],
        readiness={"database": users.ensure_ready},
    )
