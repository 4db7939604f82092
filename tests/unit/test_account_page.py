"""GET /account and its two files (TestClient, mongomock); the browser drives the page in
tests/browser/test_account_page_browser.py."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient


def test_the_page_loads_only_files_authkit_serves_itself(client: TestClient) -> None:
    page = client.get("/account")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    # The icon is an empty data: URL, so the browser asks for no /favicon.ico.
    sources = [s for s in re.findall(r'(?:src|href)="([^"]+)"', page.text) if s != "data:,"]
    assert sorted(sources) == ["/account/static/account.css", "/account/static/account.js"]
    assert "http://" not in page.text and "https://" not in page.text
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        kind = "text/css" if source.endswith(".css") else "text/javascript"
        assert asset.headers["content-type"] == f"{kind}; charset=utf-8"
        assert asset.text and "http://" not in asset.text and "https://" not in asset.text


def test_the_page_has_the_docs_pages_policy_and_cannot_be_framed(client: TestClient) -> None:
    account = client.get("/account").headers
    docs = client.get("/docs").headers
    policy = account["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy and "form-action 'none'" in policy
    # No inline script on the page: only its own file runs.
    assert re.search(r"script-src 'self' ?;", policy)
    assert account["x-frame-options"] == docs["x-frame-options"] == "DENY"
    assert account["referrer-policy"] == "no-referrer"
    assert account["x-content-type-options"] == "nosniff"


def test_the_page_keeps_the_token_out_of_urls_and_local_storage(client: TestClient) -> None:
    script = client.get("/account/static/account.js").text
    assert "localStorage" not in script
    assert "sessionStorage" in script
    assert "innerHTML" not in script  # what the API answers is shown as text, never as markup


@pytest.mark.parametrize("name", ["account.html", "page.py", "../page.py", "nope.js"])
def test_nothing_but_the_pages_files_is_served(client: TestClient, name: str) -> None:
    assert client.get(f"/account/static/{name}").status_code == 404
