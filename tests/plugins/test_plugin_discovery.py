"""The example plugins, pip-installed, are found the way any third-party plugin would be:
through their packages' entry points, with nothing in authkit naming them.

Run by `tox -e plugins`, which installs the two packages in docs/examples/;
skipped when they are not installed.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import httpx
import mongomock
import pytest
from support.processes import AppProcess, run_python
from support.settings import make_settings

from authkit import create_app

authkit_apikey = pytest.importorskip(
    "authkit_apikey",
    reason="authkit-apikey (docs/examples) is not installed: tox -e plugins does it",
)
authkit_basic = pytest.importorskip(
    "authkit_basic", reason="authkit-basic (docs/examples) is not installed: tox -e plugins does it"
)

pytestmark = pytest.mark.e2e


def test_installed_distributions_declare_the_entry_points() -> None:
    strategies = {ep.name: ep for ep in entry_points(group="authkit.strategies")}
    commands = {ep.name: ep for ep in entry_points(group="authkit.commands")}

    assert strategies["apikey"].value == "authkit_apikey:APIKeyStrategy"
    assert strategies["basic"].value == "authkit_basic:BasicStrategy"
    assert commands["apikey"].value == "authkit_apikey.cli:register"
    # Declared by the example distributions themselves, not by authkit's own metadata.
    assert strategies["apikey"].dist is not None and strategies["basic"].dist is not None
    assert strategies["apikey"].dist.name == "authkit-apikey"
    assert strategies["basic"].dist.name == "authkit-basic"
    assert commands["apikey"].dist is not None
    assert commands["apikey"].dist.name == "authkit-apikey"
    assert strategies["apikey"].load() is authkit_apikey.APIKeyStrategy
    assert strategies["basic"].load() is authkit_basic.BasicStrategy


def test_create_app_registers_both_from_the_entry_points() -> None:
    app = create_app(make_settings("s" * 40), database=mongomock.MongoClient().db)
    registry = app.state.strategies

    assert {"local", "jwt", "anonymous", "apikey", "basic"} <= set(registry)
    assert isinstance(registry.get("apikey"), authkit_apikey.APIKeyStrategy)
    assert isinstance(registry.get("basic"), authkit_basic.BasicStrategy)


def test_the_command_line_lists_the_plugin_command(tmp_path: Path) -> None:
    code, out, err = run_python(["-m", "authkit", "--help"], {}, tmp_path)
    assert code == 0, err
    assert "apikey     create, list and revoke API keys" in out
    assert err == ""  # no "ignoring command plugin" complaint


def test_the_stock_app_serves_the_key_routes_and_documents_both_schemes(
    app_server: AppProcess,
) -> None:
    # `uvicorn app:app`, nothing added: the routes come from the installed plugin.
    unauthenticated = httpx.post(app_server.base_url + "/auth/api-keys", json={"label": "x"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == 'Bearer realm="authkit"'

    answer = httpx.get(app_server.base_url + "/openapi.json", timeout=15)
    assert answer.status_code == 200
    openapi: dict[str, Any] = answer.json()
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["apikey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    assert schemes["jwt"]["scheme"] == "bearer"

    paths = openapi["paths"]
    assert set(paths["/auth/api-keys"]) == {"get", "post"}
    assert set(paths["/auth/api-keys/{id}"]) == {"delete"}
    for operation in (
        paths["/auth/api-keys"]["post"],
        paths["/auth/api-keys"]["get"],
        paths["/auth/api-keys/{id}"]["delete"],
    ):
        assert operation["security"] == [{"jwt": []}]
    assert paths["/auth/api-keys/{id}"]["delete"]["parameters"][0]["in"] == "path"
    assert (
        "key"
        in paths["/auth/api-keys"]["post"]["responses"]["201"]["content"]["application/json"][
            "schema"
        ]["required"]
    )
