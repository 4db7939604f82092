"""The administration capability as a Feature: the /admin routes."""

from __future__ import annotations

from authkit.admin.routes import admin_routes
from authkit.admin.service import Administration
from authkit.core.feature import Feature

__all__ = ["admin_feature"]


def admin_feature(admin: Administration, *, max_body_bytes: int) -> Feature:
    return Feature("admin", routes=admin_routes(admin, max_body_bytes))
