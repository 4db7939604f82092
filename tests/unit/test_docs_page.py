"""GET /docs and its assets (TestClient, mongomock); the browser drives it in
tests/browser/test_docs_page_browser.py."""

from __future__ import annotations

import re
from typing import Any

import mongomock
import pytest
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import create_app


@pytest.fixture
def client() -> Any:
    settings = make_settings("d" * 40)
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        yield client


def test_the_page_loads_only_assets_authkit_serves_itself(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/static/") for s in sources)
    assert "http://" not in page.text and "https://" not in page.text
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source


def test_the_document_it_renders_names_each_operation(client: Any) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.0")  # what the bundled Swagger UI renders
    operations = {
        op["operationId"]: (path, method)
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert operations == {
        "signUp": ("/auth/signup", "post"),
        "signIn": ("/auth/signin", "post"),
        "getMe": ("/auth/me", "get"),
        "refresh": ("/auth/refresh", "post"),
        "signOut": ("/auth/signout", "post"),
        "signOutAll": ("/auth/signout-all", "post"),
        "listSessions": ("/auth/sessions", "get"),
        "revokeSession": ("/auth/sessions/{session_id}", "delete"),
        "getJwks": ("/.well-known/jwks.json", "get"),
    }
    assert document["paths"]["/auth/me"]["get"]["security"] == [{"jwt": []}]
    for path in ("/auth/signout", "/auth/signout-all"):
        assert document["paths"][path]["post"]["security"] == [{"jwt": []}]
    assert "security" not in document["paths"]["/auth/refresh"]["post"]
    assert document["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"
