"""Where settings come from: the environment and a `.env` file (the environment wins).

Names are the NestJS app's (`MONGO_URI`, `JWT_SECRET`, ...) plus `AUTHKIT_*`
for settings of our own. Empty values count as unset. A value that does not
parse stops start-up with a ConfigError naming the variable and what it
expected; so does an unknown `AUTHKIT_*` variable, or a `.env` key that looks
like a misspelling of one of ours. A `.env` shared with other tools may hold
their keys too: unrelated names are left alone.

Example:

    settings = load_settings(os.environ, Path(".env"))    # what app.py does
    settings = load_settings({"JWT_SECRET": "…"})          # any mapping, and no .env file
"""

from __future__ import annotations

import difflib
import logging
import os
import secrets
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from cattrs import ClassValidationError, transform_error
from dotenv import dotenv_values

from authkit.core.errors import ConfigError
from authkit.settings.catalog import catalog
from authkit.settings.converter import make_converter
from authkit.settings.model import Settings
from authkit.settings.plugins import PluginSection, plugin_sections
from authkit.social.settings import PROVIDER_NAME, ProviderConfig, provider_variables

__all__ = ["ENV_VARS", "MIN_SECRET_BYTES", "ensure_local_secret", "load_settings", "read_env_file"]

logger = logging.getLogger("authkit.config")

# Variable -> (section, field), from each field's Env annotation (authkit.settings.catalog).
ENV_VARS: Mapping[str, tuple[str, str]] = {e.env.name: (e.section, e.field) for e in catalog()}
ENV_SECTIONS = frozenset(section for section, _ in ENV_VARS.values())
_SECRET_NAMES = frozenset({"JWT_SECRET"})
MIN_SECRET_BYTES = 32
_KEYGEN_HINT = (
    "create one with `authkit gen-secret` or "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
)


def _suggestion(name: str) -> str | None:
    close = difflib.get_close_matches(name.upper(), list(ENV_VARS), n=1, cutoff=0.8)
    return close[0] if close and close[0] != name else None


def read_env_file(path: Path | None, known: Mapping[str, object] = ENV_VARS) -> dict[str, str]:
    """The keys of `path` that name a setting in `known` (authkit's, by default)."""
    if path is None or not path.is_file():
        return {}
    values: dict[str, str] = {}
    problems: list[str] = []
    for key, value in dotenv_values(path).items():
        if key in known:
            values[key] = value or ""
        elif key.upper().startswith("AUTHKIT_") or _suggestion(key):
            hint = _suggestion(key)
            problems.append(
                f"{path}: unknown setting {key!r}" + (f" (did you mean {hint}?)" if hint else "")
            )
    if problems:
        raise ConfigError("; ".join(problems))
    return values


def _from_environment(environ: Mapping[str, str], known: Mapping[str, object]) -> dict[str, str]:
    unknown = sorted(k for k in environ if k.startswith("AUTHKIT_") and k not in known)
    if unknown:
        hints = [f"{k} (did you mean {_suggestion(k)}?)" if _suggestion(k) else k for k in unknown]
        raise ConfigError(
            "unknown environment variable(s): "
            + ", ".join(hints)
            + f"; authkit reads {', '.join(known)}"
        )
    for key in environ:
        hint = _suggestion(key)
        if hint and key not in known and hint not in environ:
            logger.warning(
                "environment variable %s is not read by authkit; did you mean %s?", key, hint
            )
    return {k: environ[k] for k in known if k in environ}


def _raw_values(
    environ: Mapping[str, str], env_file: Path | None, known: Mapping[str, object]
) -> dict[str, str]:
    """The text of each setting in `known` that is set: `environ` over `env_file`."""
    # Empty counts as unset in each source, so an empty variable never hides a .env value.
    sources = (read_env_file(env_file, known), _from_environment(environ, known))
    return {k: v for source in sources for k, v in source.items() if v.strip()}


def load_settings(
    environ: Mapping[str, str],
    env_file: Path | None = None,
    *,
    plugins: Sequence[PluginSection] | None = None,
) -> Settings:
    """Settings from `environ` (the process's environment, usually) over `env_file`'s keys.

    `plugins`: the settings sections plugins declare; None finds them through the
    `authkit.settings` entry points.
    """
    sections = plugin_sections() if plugins is None else plugins
    owners: dict[str, tuple[str, str]] = dict(ENV_VARS)
    for plugin in sections:
        # A key of its own, so a plugin named like one of authkit's sections stays apart.
        owners.update({e.env.name: (f"plugin:{plugin.name}", e.field) for e in plugin.entries})
    providers = _oauth_provider_names(environ, env_file)
    for name in providers:
        owners.update(
            {
                var: (f"oauth_client:{name}", field)
                for var, field in provider_variables(name).items()
            }
        )
    raw = _raw_values(environ, env_file, owners)
    if "JWT_SECRET" not in raw and "AUTHKIT_JWT_KEYS" not in raw:
        raise ConfigError(
            "JWT_SECRET is not set: authkit signs and verifies tokens with it. Set it in the "
            + (f"environment or in {env_file} " if env_file else "environment ")
            + f"({_KEYGEN_HINT}), "
            "or start with `authkit serve`, which creates one in .env on first run "
            "(or set AUTHKIT_JWT_KEYS to sign with a key set instead: docs/tokens.md)."
        )
    nested: dict[str, dict[str, str]] = {}
    for name, value in raw.items():
        section, field = owners[name]
        nested.setdefault(section, {})[field] = value
    converter = make_converter()
    by_path = {f"$.{section}.{field}": name for name, (section, field) in owners.items()}
    try:
        settings = converter.structure(
            {k: v for k, v in nested.items() if k in ENV_SECTIONS}, Settings
        )
        extensions: dict[type, object] = {
            plugin.cls: converter.structure(nested.get(f"plugin:{plugin.name}", {}), plugin.cls)
            for plugin in sections
        }
    except ClassValidationError as exc:
        problems = _describe(exc, by_path, "$" if exc.cl is Settings else _path_of(exc, sections))
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    clients = tuple(_provider_config(name, nested, converter) for name in providers)
    settings = attrs.evolve(settings, extensions=extensions, oauth_clients=clients)
    secret = settings.jwt.secret
    if (
        settings.jwt.keys_file is None
        and secret is not None
        and len(secret.value.encode("utf-8")) < MIN_SECRET_BYTES
    ):
        logger.warning(
            "JWT_SECRET is shorter than %d bytes: tokens signed with it can be brute-forced "
            "offline. It keeps working; replace it when you can (%s).",
            MIN_SECRET_BYTES,
            _KEYGEN_HINT,
        )
    return settings


def _oauth_provider_names(environ: Mapping[str, str], env_file: Path | None) -> tuple[str, ...]:
    """The names in AUTHKIT_OAUTH_PROVIDERS (the environment over the .env file), checked:
    they decide which further variables are settings at all."""
    text = environ.get("AUTHKIT_OAUTH_PROVIDERS", "").strip()
    if not text and env_file is not None and env_file.is_file():
        text = (dotenv_values(env_file).get("AUTHKIT_OAUTH_PROVIDERS") or "").strip()
    names = tuple(dict.fromkeys(word.strip() for word in text.split(",") if word.strip()))
    bad = [name for name in names if not PROVIDER_NAME.match(name)]
    if bad:
        raise ConfigError(
            f"AUTHKIT_OAUTH_PROVIDERS: {', '.join(map(repr, bad))}: a provider name is lower-case "
            "letters and digits, starting with a letter, at most 32 characters"
        )
    return names


def _provider_config(
    name: str, nested: Mapping[str, Mapping[str, str]], converter: Any
) -> ProviderConfig:
    values = dict(nested.get(f"oauth_client:{name}", {}))
    variables = {field: var for var, field in provider_variables(name).items()}
    if "client_id" not in values:
        raise ConfigError(
            f"{variables['client_id']} is not set: provider {name!r} is named in "
            "AUTHKIT_OAUTH_PROVIDERS"
        )
    try:
        config: ProviderConfig = converter.structure({"name": name, **values}, ProviderConfig)
    except ClassValidationError as exc:
        by_path = {f"$.{field}": var for field, var in variables.items()}
        problems = [
            p.split(" (got ")[0] if variables["client_secret"] in p else p
            for p in _describe(exc, by_path, "$")
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    return config


def load_section(environ: Mapping[str, str], env_file: Path | None, section: str) -> Any:
    """One section of authkit's settings (`"jwt"`, say), read as load_settings reads it but
    without what the others need (a command that handles keys needs no JWT_SECRET)."""
    names = {name: field for name, (owner, field) in ENV_VARS.items() if owner == section}
    if not names:
        raise ValueError(f"no settings section {section!r}")
    raw = {k: v for k, v in _raw_values(environ, env_file, ENV_VARS).items() if k in names}
    cls = typing.get_type_hints(Settings)[section]
    by_path = {f"$.{section}.{field}": name for name, field in names.items()}
    try:
        return make_converter().structure({names[k]: v for k, v in raw.items()}, cls)
    except ClassValidationError as exc:
        problems = _describe(exc, by_path, f"$.{section}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _path_of(exc: ClassValidationError, sections: Sequence[PluginSection]) -> str:
    return next(f"$.plugin:{p.name}" for p in sections if p.cls is exc.cl)


def _describe(exc: ClassValidationError, by_path: Mapping[str, str], root: str) -> list[str]:
    messages = []
    for line in transform_error(exc, path=root, format_exception=lambda e, _: str(e)):
        message, _, path = line.rpartition(" @ ")
        name = by_path.get(path, path)
        if name in _SECRET_NAMES:
            message = message.split(" (got ")[0]  # never echo a secret back
        messages.append(f"{name}: {message}")
    return messages


def ensure_local_secret(env_file: Path, environ: Mapping[str, str]) -> bool:
    """Give a fresh checkout a strong JWT_SECRET in `env_file` (mode 0600), unless `environ`
    or the file sets one already.

    Returns True when it wrote one, False when a secret was already set.
    """
    if (
        environ.get("JWT_SECRET", "").strip()
        or read_env_file(env_file).get("JWT_SECRET", "").strip()
    ):
        return False
    existing = env_file.read_bytes() if env_file.is_file() else b""
    needs_newline = bool(existing) and not existing.endswith(b"\n")
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # it holds a secret now, whatever its mode was
        out.write(("\n" if needs_newline else "") + f"JWT_SECRET={secrets.token_urlsafe(48)}\n")
    return True
