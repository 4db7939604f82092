"""config: load_settings (environment and .env), the text converters behind it,
the Secret wrapper, and ensure_local_secret (first-run secret in .env).

Every test passes environ= and env_file= explicitly; os.environ is never read or written.
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from authkit.core.errors import ConfigError
from authkit.passwords.throttle import Limit
from authkit.settings.catalog import Entry, catalog, markdown_table
from authkit.settings.loader import ENV_VARS, ensure_local_secret, load_settings
from authkit.settings.model import DEFAULT_MONGO_URI, Secret

SECRET = "config-test-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def load(env: dict[str, str] | None = None, env_file: Path | None = None) -> object:
    return load_settings(environ={"JWT_SECRET": SECRET, **(env or {})}, env_file=env_file)


def config_error(env: dict[str, str], env_file: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env, env_file=env_file)
    return str(caught.value)


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- defaults and sources


def test_defaults() -> None:
    settings = load_settings(environ={"JWT_SECRET": SECRET}, env_file=None)
    assert settings.jwt.secret == Secret(SECRET)
    assert settings.jwt.expires_in == timedelta(seconds=60)
    assert settings.passwords.bcrypt_rounds == 10
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 3000
    assert settings.server.max_body_bytes == 16 * 1024
    assert settings.mongo.uri is None
    assert settings.mongo.effective_uri == DEFAULT_MONGO_URI
    assert settings.signin_limits.per_account == Limit(10, 900)
    assert settings.signin_limits.per_address == Limit(100, 900)


def test_every_variable_is_read() -> None:
    settings = load_settings(
        environ={
            "JWT_SECRET": SECRET,
            "MONGO_URI": "mongodb://db.example:27017/app",
            "JWT_EXPIRES_IN": "15m",
            "BCRYPT_ROUNDS": "12",
            "HOST": "192.0.2.10",
            "PORT": "8080",
            "AUTHKIT_MAX_BODY_BYTES": "4096",
        },
        env_file=None,
    )
    assert settings.mongo.uri == "mongodb://db.example:27017/app"
    assert settings.mongo.effective_uri == "mongodb://db.example:27017/app"
    assert settings.jwt.expires_in == timedelta(minutes=15)
    assert settings.passwords.bcrypt_rounds == 12
    assert settings.server.host == "192.0.2.10"
    assert settings.server.port == 8080
    assert settings.server.max_body_bytes == 4096


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, f"JWT_SECRET={SECRET}\nPORT=4000\n# a comment\n")
    settings = load_settings(environ={}, env_file=env_file)
    assert settings.jwt.secret.value == SECRET
    assert settings.server.port == 4000


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "JWT_SECRET=from-the-file-0123456789abcdef0123\nPORT=4000\n")
    settings = load_settings(environ={"JWT_SECRET": SECRET, "PORT": "5000"}, env_file=env_file)
    assert settings.jwt.secret.value == SECRET
    assert settings.server.port == 5000


def test_missing_dotenv_file_is_not_an_error(tmp_path: Path) -> None:
    settings = load_settings(environ={"JWT_SECRET": SECRET}, env_file=tmp_path / "absent.env")
    assert settings.server.port == 3000


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_values_count_as_unset(empty: str) -> None:
    settings = load({"PORT": empty, "BCRYPT_ROUNDS": empty, "MONGO_URI": empty})
    assert settings.server.port == 3000
    assert settings.passwords.bcrypt_rounds == 10
    assert settings.mongo.uri is None


def test_empty_secret_counts_as_unset() -> None:
    assert "JWT_SECRET is not set" in config_error({"JWT_SECRET": ""})


def test_empty_environment_value_does_not_hide_the_dotenv_value(tmp_path: Path) -> None:
    # "Empty values count as unset": an empty PORT in the environment (docker compose's
    # `PORT: ${PORT}` when PORT is not exported) is no value, so the .env value applies.
    env_file = write_env(tmp_path, "PORT=4000\n")
    settings = load_settings(environ={"JWT_SECRET": SECRET, "PORT": ""}, env_file=env_file)
    assert settings.server.port == 4000


def test_empty_secret_in_environment_does_not_hide_the_dotenv_secret(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, f"JWT_SECRET={SECRET}\n")
    settings = load_settings(environ={"JWT_SECRET": ""}, env_file=env_file)
    assert settings.jwt.secret.value == SECRET


# ---------------------------------------------------------------- invalid values


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "abc", "PORT: expected a whole number (got 'abc')"),
        ("PORT", "0", "PORT: expected a number from 1 to 65535 (got 0)"),
        ("PORT", "65536", "PORT: expected a number from 1 to 65535 (got 65536)"),
        ("BCRYPT_ROUNDS", "3", "BCRYPT_ROUNDS: expected a number from 4 to 31 (got 3)"),
        ("BCRYPT_ROUNDS", "32", "BCRYPT_ROUNDS: expected a number from 4 to 31 (got 32)"),
        ("BCRYPT_ROUNDS", "ten", "BCRYPT_ROUNDS: expected a whole number (got 'ten')"),
        (
            "AUTHKIT_MAX_BODY_BYTES",
            "100",
            "AUTHKIT_MAX_BODY_BYTES: expected a number from 256 to 67108864 (got 100)",
        ),
        (
            "JWT_EXPIRES_IN",
            "bogus",
            "JWT_EXPIRES_IN: expected a duration such as 60s, 15m, 1h, 7d or a number of "
            "seconds (got 'bogus')",
        ),
        (
            "JWT_EXPIRES_IN",
            "500ms",
            "JWT_EXPIRES_IN: expected at least 1 second: JWT times have 1-second resolution "
            "(got '500ms')",
        ),
        ("JWT_EXPIRES_IN", "-5m", "JWT_EXPIRES_IN: expected a duration"),
        ("JWT_EXPIRES_IN", "0", "JWT_EXPIRES_IN: expected at least 1 second"),
        ("AUTHKIT_ACCESS_LOG", "maybe", "AUTHKIT_ACCESS_LOG: expected true or false (got 'maybe')"),
    ],
)
def test_invalid_value_names_the_variable_and_what_was_expected(
    name: str, value: str, expected: str
) -> None:
    message = config_error({"JWT_SECRET": SECRET, name: value})
    assert expected in message
    assert SECRET not in message


def test_every_invalid_value_is_reported_at_once() -> None:
    message = config_error({"JWT_SECRET": SECRET, "PORT": "abc", "BCRYPT_ROUNDS": "3"})
    assert "PORT: expected a whole number" in message
    assert "BCRYPT_ROUNDS: expected a number from 4 to 31" in message


def test_invalid_value_in_dotenv_is_reported_by_name(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "PORT=eighty\n")
    assert "PORT: expected a whole number (got 'eighty')" in config_error(
        {"JWT_SECRET": SECRET}, env_file
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60s", 60),
        ("15m", 900),
        ("1h", 3600),
        ("2 days", 172800),
        ("7d", 604800),
        ("90", 90),
        ("1.5h", 5400),
        (" 10 minutes ", 600),
        ("1W", 604800),
    ],
)
def test_jwt_expires_in_forms(text: str, seconds: int) -> None:
    settings = load({"JWT_EXPIRES_IN": text})
    assert settings.jwt.expires_in == timedelta(seconds=seconds)


def test_numbers_with_surrounding_spaces_are_read() -> None:
    assert load({"PORT": " 8080 "}).server.port == 8080


# ---------------------------------------------------------------- the secret


def test_missing_secret_says_how_to_make_one() -> None:
    message = config_error({})
    assert "JWT_SECRET is not set" in message
    assert "secrets.token_urlsafe" in message
    assert "authkit serve" in message


def test_missing_secret_names_the_env_file(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "PORT=4000\n")
    assert str(env_file) in config_error({}, env_file)


def test_secret_never_shows_in_repr_or_str() -> None:
    settings = load()
    for text in (repr(settings), str(settings), repr(settings.jwt), str(settings.jwt.secret)):
        assert SECRET not in text
    assert repr(settings.jwt.secret) == "Secret('**********')"


def test_secret_never_shows_in_any_error(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, f"JWT_SECRET={SECRET}\nJWT_SECRT=x\n")
    failures = [
        ({"JWT_SECRET": SECRET, "PORT": "abc"}, None),
        ({"JWT_SECRET": SECRET, "JWT_EXPIRES_IN": "bogus", "BCRYPT_ROUNDS": "3"}, None),
        ({"JWT_SECRET": SECRET, "AUTHKIT_FOO": "1"}, None),
        ({}, env_file),
    ]
    for env, file in failures:
        with pytest.raises(ConfigError) as caught:
            load_settings(environ=env, env_file=file)
        assert SECRET not in str(caught.value)
        assert SECRET not in repr(caught.value)


def test_short_secret_warns_but_loads(caplog: pytest.LogCaptureFixture) -> None:
    short = "tiny-secret"
    with caplog.at_level(logging.WARNING, logger="authkit.config"):
        settings = load_settings(environ={"JWT_SECRET": short}, env_file=None)
    assert settings.jwt.secret.value == short
    assert "JWT_SECRET is shorter than 32 bytes" in caplog.text
    assert short not in caplog.text


def test_long_secret_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="authkit.config"):
        load()
    assert "shorter than" not in caplog.text


# ---------------------------------------------------------------- unknown names


def test_unknown_authkit_variable_is_an_error_that_lists_what_is_read() -> None:
    message = config_error({"JWT_SECRET": SECRET, "AUTHKIT_FOO": "1"})
    assert "AUTHKIT_FOO" in message
    assert "AUTHKIT_MAX_BODY_BYTES" in message  # "authkit reads ..."
    assert "did you mean" not in message  # nothing is close to FOO


def test_misspelt_authkit_variable_gets_a_did_you_mean() -> None:
    message = config_error({"JWT_SECRET": SECRET, "AUTHKIT_MAX_BODY_BYTE": "4096"})
    assert "AUTHKIT_MAX_BODY_BYTE (did you mean AUTHKIT_MAX_BODY_BYTES?)" in message


def test_misspelt_standard_variable_in_environment_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The process environment is shared with everything else, so a near-miss is a warning.
    with caplog.at_level(logging.WARNING, logger="authkit.config"):
        settings = load({"JWT_EXPIRE_IN": "5m"})
    assert settings.jwt.expires_in == timedelta(seconds=60)
    assert "JWT_EXPIRE_IN" in caplog.text
    assert "did you mean JWT_EXPIRES_IN" in caplog.text


def test_misspelt_key_in_dotenv_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "JWT_SECRT=abc\n")
    message = config_error({"JWT_SECRET": SECRET}, env_file)
    assert "'JWT_SECRT'" in message
    assert "did you mean JWT_SECRET?" in message
    assert str(env_file) in message


def test_unknown_authkit_key_in_dotenv_is_an_error(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "AUTHKIT_FOO=1\n")
    assert "unknown setting 'AUTHKIT_FOO'" in config_error({"JWT_SECRET": SECRET}, env_file)


def test_unrelated_dotenv_keys_are_ignored(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path, f"NODE_ENV=production\nDATABASE_POOL=5\nJWT_SECRET={SECRET}\nPORT=4100\n"
    )
    settings = load_settings(environ={}, env_file=env_file)
    assert settings.server.port == 4100


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = load({"PATH": "/usr/bin", "HOME": "/root", "NODE_ENV": "production"})
    assert settings.server.port == 3000


# ---------------------------------------------------------------- ensure_local_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_local_secret_creates_a_private_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    assert ensure_local_secret(env_file, environ={}) is True
    assert mode(env_file) == 0o600
    lines = env_file.read_text("utf-8").splitlines()
    assert len(lines) == 1
    name, _, secret = lines[0].partition("=")
    assert name == "JWT_SECRET"
    assert len(secret) >= 48
    # and the app can start from it
    assert load_settings(environ={}, env_file=env_file).jwt.secret.value == secret


def test_ensure_local_secret_makes_a_different_secret_each_time(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    ensure_local_secret(first, environ={})
    ensure_local_secret(second, environ={})
    assert first.read_text("utf-8") != second.read_text("utf-8")


def test_ensure_local_secret_appends_after_a_last_line_without_newline(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "PORT=4200")
    assert ensure_local_secret(env_file, environ={}) is True
    text = env_file.read_text("utf-8")
    assert text.startswith("PORT=4200\nJWT_SECRET=")
    assert text.endswith("\n")
    settings = load_settings(environ={}, env_file=env_file)
    assert settings.server.port == 4200
    assert len(settings.jwt.secret.value) >= 48


def test_ensure_local_secret_appends_after_a_trailing_newline_without_blank_line(
    tmp_path: Path,
) -> None:
    env_file = write_env(tmp_path, "PORT=4200\n")
    ensure_local_secret(env_file, environ={})
    assert env_file.read_text("utf-8").startswith("PORT=4200\nJWT_SECRET=")


def test_ensure_local_secret_tightens_an_existing_readable_file(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "PORT=4200\n")
    os.chmod(env_file, 0o644)
    ensure_local_secret(env_file, environ={})
    assert mode(env_file) == 0o600


def test_ensure_local_secret_does_nothing_when_the_environment_has_a_secret(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    assert ensure_local_secret(env_file, environ={"JWT_SECRET": SECRET}) is False
    assert not env_file.exists()


def test_ensure_local_secret_does_nothing_when_the_file_has_a_secret(tmp_path: Path) -> None:
    original = f"JWT_SECRET={SECRET}\nPORT=4200\n"
    env_file = write_env(tmp_path, original)
    os.chmod(env_file, 0o640)
    assert ensure_local_secret(env_file, environ={}) is False
    assert env_file.read_text("utf-8") == original
    assert mode(env_file) == 0o640


def test_ensure_local_secret_replaces_an_empty_secret(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "JWT_SECRET=\n")
    assert ensure_local_secret(env_file, environ={"JWT_SECRET": ""}) is True
    assert len(load_settings(environ={}, env_file=env_file).jwt.secret.value) >= 48


# ---------------------------------------------------------------- token lifecycle settings


def test_token_lifecycle_defaults() -> None:
    settings = load_settings(environ={"JWT_SECRET": SECRET}, env_file=None)
    assert settings.sessions.refresh_tokens == "body"
    assert settings.sessions.refresh_ttl == timedelta(days=14)
    assert settings.sessions.reuse_grace == 10
    assert settings.sessions.cookie_samesite == "strict"
    assert settings.sessions.revocation_checks is False
    jwt = settings.jwt
    assert (jwt.keys_file, jwt.issuer, jwt.audience, jwt.leeway) == (None, None, None, 0)


def test_token_lifecycle_variables_are_read() -> None:
    settings = load_settings(
        environ={
            "AUTHKIT_JWT_KEYS": " /etc/authkit/keys.json ",
            "AUTHKIT_JWT_ISSUER": "https://auth.example",
            "AUTHKIT_JWT_AUDIENCE": "orders-api",
            "AUTHKIT_JWT_LEEWAY": "30",
            "AUTHKIT_REFRESH_TOKENS": "Cookie",
            "AUTHKIT_REFRESH_TTL": "30d",
            "AUTHKIT_SESSION_MAX_AGE": "90d",
            "AUTHKIT_REFRESH_REUSE_GRACE": "0",
            "AUTHKIT_REFRESH_COOKIE_SAMESITE": "lax",
            "AUTHKIT_REVOCATION_CHECKS": "on",
        },
        env_file=None,
    )
    # With a key set, JWT_SECRET is not needed: the keys sign.
    assert settings.jwt.secret is None
    assert settings.jwt.keys_file == Path("/etc/authkit/keys.json")
    assert (settings.jwt.issuer, settings.jwt.audience) == ("https://auth.example", "orders-api")
    assert settings.jwt.leeway == 30
    assert settings.sessions.refresh_tokens == "cookie"
    assert settings.sessions.refresh_ttl == timedelta(days=30)
    assert settings.sessions.max_age == timedelta(days=90)
    assert settings.sessions.reuse_grace == 0
    assert settings.sessions.cookie_samesite == "lax"
    assert settings.sessions.revocation_checks is True


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "AUTHKIT_REFRESH_TOKENS",
            "header",
            "AUTHKIT_REFRESH_TOKENS: expected one of body, cookie, off (got 'header')",
        ),
        ("AUTHKIT_REFRESH_TTL", "forever", "AUTHKIT_REFRESH_TTL: expected a duration"),
        (
            "AUTHKIT_SESSION_MAX_AGE",
            "forever",
            "AUTHKIT_SESSION_MAX_AGE: expected a duration such as 60s, 15m, 1h, 7d or a "
            "number of seconds (got 'forever'); or off",
        ),
        ("AUTHKIT_REFRESH_COOKIE_SAMESITE", "strictest", "expected one of strict, lax, none"),
        ("AUTHKIT_REVOCATION_CHECKS", "maybe", "AUTHKIT_REVOCATION_CHECKS: expected true or false"),
        ("AUTHKIT_JWT_LEEWAY", "301", "AUTHKIT_JWT_LEEWAY: expected a number from 0 to 300"),
        ("AUTHKIT_JWT_LEEWAY", "5s", "AUTHKIT_JWT_LEEWAY: expected a whole number"),
    ],
)
def test_invalid_token_lifecycle_values_name_the_variable(
    name: str, value: str, expected: str
) -> None:
    assert expected in config_error({"JWT_SECRET": SECRET, name: value})


@pytest.mark.parametrize(("value", "expected"), [(None, timedelta(days=30)), ("off", None)])
def test_sessions_end_after_30_days_unless_told_otherwise(
    value: str | None, expected: timedelta | None
) -> None:
    environ = {"JWT_SECRET": SECRET} | ({"AUTHKIT_SESSION_MAX_AGE": value} if value else {})
    assert load_settings(environ=environ, env_file=None).sessions.max_age == expected


def test_a_misspelt_token_variable_is_refused_with_a_suggestion() -> None:
    message = config_error({"JWT_SECRET": SECRET, "AUTHKIT_REFRESH_TOKEN": "off"})
    assert "AUTHKIT_REFRESH_TOKEN (did you mean AUTHKIT_REFRESH_TOKENS?)" in message


def test_without_a_secret_or_a_key_set_start_up_says_both_ways() -> None:
    message = config_error({})
    assert "JWT_SECRET is not set" in message and "AUTHKIT_JWT_KEYS" in message


def test_the_readme_settings_table_is_the_one_the_settings_classes_make() -> None:
    # Each setting's variable, default and meaning are written once, in its field's Env
    # annotation; the README carries the table `python -m authkit.settings` prints.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    assert markdown_table() in readme


def test_every_variable_the_loader_reads_is_in_the_catalog_once() -> None:
    names = [entry.env.name for entry in catalog()]
    assert len(names) == len(set(names))
    assert list(ENV_VARS) == names
    assert {"JWT_SECRET", "MONGO_URI", "AUTHKIT_SIGNIN_LIMIT_ACCOUNT"} <= set(names)


@pytest.mark.parametrize(
    "entry", [e for e in catalog() if e.env.name != "JWT_SECRET"], ids=lambda e: e.env.name
)
def test_each_settings_documented_default_is_what_an_unset_variable_gives(entry: Entry) -> None:
    settings = load_settings({"JWT_SECRET": SECRET})
    assert getattr(getattr(settings, entry.section), entry.field) == entry.default
    if entry.env.default_text is None and entry.default is not None:
        # The text shown parses back to the default.
        written = entry.default_text.strip("`")
        again = load_settings({"JWT_SECRET": SECRET, entry.env.name: written})
        assert getattr(getattr(again, entry.section), entry.field) == entry.default
