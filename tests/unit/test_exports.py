"""authkit/__init__.py: the public API (`__all__`) that applications and strategy plugins use."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import get_args

import pytest

import authkit
import authkit.plugin

# What a plugin author needs (docs: "the Passport.js way") and an application wires.
PLUGIN_API = {
    "Strategy",
    "StrategyContext",
    "Success",
    "Fail",
    "Outcome",
    "AuthenticatedUser",
    "guard",
    "GuardedApp",
    "HTTPError",
    "BackendUnavailable",
    "create_app",
    "load_settings",
    "Settings",
}


def test_all_is_sorted_and_unique() -> None:
    names = list(authkit.__all__)
    assert len(names) == len(set(names))
    assert names == sorted(names)


@pytest.mark.parametrize("name", authkit.__all__)
def test_every_exported_name_exists_and_is_authkits_own(name: str) -> None:
    value = getattr(authkit, name)
    assert value is not None
    if get_args(value):  # a type alias such as Outcome = Success | Fail
        assert all(arg.__module__.startswith("authkit.") for arg in get_args(value))
        return
    module = getattr(value, "__module__", "")
    assert module.startswith("authkit."), f"{name} comes from {module}"
    # the name is the object's real name and it is reachable from its home module too
    home = importlib.import_module(module)
    assert getattr(home, name) is value


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from authkit import *", namespace)  # noqa: S102 - the statement under test
    assert set(namespace) - {"__builtins__"} == set(authkit.__all__)


def test_plugin_api_is_exported() -> None:
    assert set(authkit.__all__) >= PLUGIN_API


def test_the_version_is_the_installed_distributions() -> None:
    assert authkit.__version__ == importlib.metadata.version("authkit-asgi")


@pytest.mark.parametrize("name", authkit.plugin.__all__)
def test_the_plugin_module_exports_authkits_own_names(name: str) -> None:
    value = getattr(authkit.plugin, name)
    if not callable(value) or get_args(value):  # a constant, or a type alias (Outcome)
        return
    module = getattr(value, "__module__", "")
    assert module.startswith("authkit."), f"{name} comes from {module}"


def test_no_private_or_module_names_are_exported() -> None:
    for name in authkit.__all__:
        assert not name.startswith("_")
        assert not isinstance(getattr(authkit, name), type(authkit))
