"""Social sign-in's settings: per-provider variables named after the providers listed, and
a start refused when what a flow needs is missing."""

from __future__ import annotations

from pathlib import Path

import mongomock
import pytest

from authkit import create_app
from authkit.core.errors import ConfigError
from authkit.settings.loader import load_settings

BASE = {"JWT_SECRET": "unit-test-secret-0123456789abcdef0123456789"}
GITHUB = {
    "AUTHKIT_OAUTH_PROVIDERS": "github, corp",
    "AUTHKIT_OAUTH_GITHUB_KIND": "github",
    "AUTHKIT_OAUTH_GITHUB_CLIENT_ID": "Iv1.abc",
    "AUTHKIT_OAUTH_GITHUB_CLIENT_SECRET": "gh-secret-value",
    "AUTHKIT_OAUTH_CORP_CLIENT_ID": "corp-client",
    "AUTHKIT_OAUTH_CORP_ISSUER": "https://idp.example.com",
    "AUTHKIT_OAUTH_CORP_SCOPES": "openid,email",
    "AUTHKIT_PUBLIC_URL": "https://auth.example.com",
    "AUTHKIT_OAUTH_REDIRECT_TARGETS": "https://app.example.com/signed-in",
    "AUTHKIT_OAUTH_LINK_BY_EMAIL": "verified",
}


def test_each_listed_provider_reads_its_own_variables() -> None:
    settings = load_settings({**BASE, **GITHUB})
    github, corp = settings.oauth_clients
    assert (github.name, github.kind, github.client_id) == ("github", "github", "Iv1.abc")
    assert github.client_secret is not None and github.client_secret.value == "gh-secret-value"
    assert "gh-secret-value" not in repr(settings)
    assert (corp.kind, corp.issuer, corp.scopes) == (
        "oidc",
        "https://idp.example.com",
        "openid,email",
    )
    assert settings.oauth.link_by_email == "verified"
    assert settings.server.public_url == "https://auth.example.com"


def test_the_env_file_may_list_the_providers(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in GITHUB.items()))
    assert [c.name for c in load_settings(BASE, env).oauth_clients] == ["github", "corp"]


def test_a_variable_of_an_unlisted_provider_is_unknown() -> None:
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_GITLAB_CLIENT_ID"):
        load_settings({**BASE, **GITHUB, "AUTHKIT_OAUTH_GITLAB_CLIENT_ID": "x"})


def test_a_listed_provider_needs_a_client_id() -> None:
    env = {**BASE, **GITHUB}
    del env["AUTHKIT_OAUTH_CORP_CLIENT_ID"]
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_CORP_CLIENT_ID is not set"):
        load_settings(env)


@pytest.mark.parametrize("name", ["Git Hub", "9lives", "a" * 40, "git-hub"])
def test_provider_names_are_plain(name: str) -> None:
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_PROVIDERS"):
        load_settings({**BASE, "AUTHKIT_OAUTH_PROVIDERS": name})


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("AUTHKIT_PUBLIC_URL", "AUTHKIT_PUBLIC_URL"),
        ("AUTHKIT_OAUTH_REDIRECT_TARGETS", "AUTHKIT_OAUTH_REDIRECT_TARGETS"),
        ("AUTHKIT_OAUTH_CORP_ISSUER", "AUTHKIT_OAUTH_CORP_ISSUER"),
    ],
)
def test_the_start_is_refused_without_what_a_flow_needs(drop: str, message: str) -> None:
    env = {**BASE, **GITHUB}
    del env[drop]
    with pytest.raises(ConfigError, match=message):
        create_app(load_settings(env), database=mongomock.MongoClient().db)


def test_an_unknown_kind_is_refused_at_start() -> None:
    settings = load_settings({**BASE, **GITHUB, "AUTHKIT_OAUTH_GITHUB_KIND": "gitlab"})
    with pytest.raises(ConfigError, match="no provider kind 'gitlab'"):
        create_app(settings, database=mongomock.MongoClient().db)


@pytest.mark.parametrize(
    "target", ["app.example.com/done", "https://app.example.com/#x", "ftp://a/b"]
)
def test_redirect_targets_must_be_urls(target: str) -> None:
    settings = load_settings({**BASE, **GITHUB, "AUTHKIT_OAUTH_REDIRECT_TARGETS": target})
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_REDIRECT_TARGETS"):
        create_app(settings, database=mongomock.MongoClient().db)


def test_the_exchange_binding_is_required_unless_set_optional() -> None:
    assert load_settings({**BASE, **GITHUB}).oauth.exchange_pkce == "required"
    relaxed = load_settings({**BASE, **GITHUB, "AUTHKIT_OAUTH_EXCHANGE_PKCE": "optional"})
    assert relaxed.oauth.exchange_pkce == "optional"
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_EXCHANGE_PKCE"):
        load_settings({**BASE, **GITHUB, "AUTHKIT_OAUTH_EXCHANGE_PKCE": "off"})
