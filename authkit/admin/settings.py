"""The administration settings section: the admin role, and whether sign-up is open."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Choice, Env

__all__ = ["AdminSettings"]


@attrs.frozen
class AdminSettings:
    """Roles, administration and sign-up (docs/accounts.md)."""

    role: Annotated[
        str,
        Env(
            "AUTHKIT_ADMIN_ROLE",
            "the role whose holders may use the /auth/admin routes (`authkit create-user --role`)",
        ),
    ] = "admin"
    signup: Annotated[
        str,
        Choice(("open", "closed")),
        Env(
            "AUTHKIT_SIGNUP",
            "`open`: anyone may sign up; `closed`: /auth/signup answers 403 and only "
            "administrators create users (admin route, `authkit create-user`)",
        ),
    ] = "open"
