"""A real OpenID provider for the social sign-in tests: `oidc-provider` (npm, OpenID-certified)
run by Node on loopback, from tests/support/oidc_provider/.

- `install_provider()`: a folder with oidc-provider's node_modules, installed once by npm into
  a cache folder (~/.cache/authkit-tests/oidc-provider/<package-lock hash>, or
  $AUTHKIT_TEST_CACHE) and reused while the lock file is unchanged; `npm ci --prefer-offline`,
  so a warm npm cache needs no network. Two installs at once (tox runs envs in parallel) take
  turns on a lock file.
- `node_binary(folder)`: the machine's Node when it runs the provider (oidc-provider 9 asks
  for Node 22 and runs on 20 with a warning); otherwise Node 22 installed from npm as a package
  (`npm install node@22`) into the cache.
- `OidcProvider`: one provider process with its test clients and accounts; `start()`,
  `stop()`, `restart()` (same port, same signing key: "the provider was down for a while"),
  `pause()`/`resume()` (SIGSTOP: it accepts connections and never answers, a hung provider),
  `restart_with_a_new_key()` (a key rotation),
  usable as a context manager. `start()` returns once discovery answers, or fails after
  STARTUP_TIMEOUT seconds.

Nothing here is a fake: the pages, tokens, PKCE and `iss` checks are oidc-provider's own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import httpx
import pytest

from authkit.storage.embedded import free_port

__all__ = [
    "DEFAULT_ACCOUNTS",
    "OidcProvider",
    "ProviderAccount",
    "ProviderClient",
    "install_provider",
    "loopback_host",
    "node_binary",
]

SOURCE = Path(__file__).resolve().parent / "oidc_provider"
STARTUP_TIMEOUT = 120.0  # seconds for discovery to answer after the process starts (a loaded CI)
INSTALL_TIMEOUT = 300.0  # seconds for one npm install
MINIMUM_NODE = 20


@attrs.frozen
class ProviderAccount:
    """A user at the provider: typed as `id` on its login page; `sub` is the subject it
    asserts (the id unless given)."""

    id: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    sub: str | None = None

    @property
    def subject(self) -> str:
        return self.sub or self.id


@attrs.frozen
class ProviderClient:
    """A relying party registered at the provider (confidential, code flow, PKCE S256)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_basic"


DEFAULT_ACCOUNTS = (
    ProviderAccount("alice", "alice@example.test", True, "Alice Example"),
    ProviderAccount("bob", "bob@example.test", False, "Bob Unverified"),
    # Same address as alice, another subject: an identity is its subject, never its email.
    ProviderAccount("mallory", "alice@example.test", True, "Mallory Sameaddress"),
)


def _cache_root() -> Path:
    given = os.environ.get("AUTHKIT_TEST_CACHE")
    return Path(given) if given else Path.home() / ".cache" / "authkit-tests"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm(args: Sequence[str], cwd: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is needed to install oidc-provider (the OpenID provider of these tests)")
    try:
        done = subprocess.run(
            [npm, *args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm {' '.join(args)} did not finish within {INSTALL_TIMEOUT:.0f} s")
    if done.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} failed in {cwd}:\n{done.stderr[-3000:]}")


def install_provider() -> Path:
    """The folder holding oidc-provider's node_modules, installing it on first use."""
    lock = (SOURCE / "package-lock.json").read_bytes()
    folder = _cache_root() / "oidc-provider" / hashlib.sha256(lock).hexdigest()[:16]
    with _exclusive(_cache_root() / "oidc-provider.lock"):
        if not (folder / "node_modules" / "oidc-provider" / "package.json").is_file():
            staging = folder.with_name(folder.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(SOURCE / name, staging / name)
            _npm(["ci"], staging)
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
    return folder


def _node_major(node: str) -> int:
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.match(r"v(\d+)\.", out.strip())
    return int(found[1]) if found else 0


def _runs_provider(node: str, folder: Path) -> bool:
    try:
        done = subprocess.run(
            [node, "--input-type=module", "-e", "await import('oidc-provider')"],
            cwd=folder,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def node_binary(folder: Path) -> str:
    """A Node that loads oidc-provider: the machine's, else Node 22 from the npm package."""
    system = shutil.which("node")
    if system and _node_major(system) >= MINIMUM_NODE and _runs_provider(system, folder):
        return system
    node22 = _cache_root() / "node22"
    binary = node22 / "node_modules" / "node" / "bin" / "node"
    with _exclusive(_cache_root() / "node22.lock"):
        if not binary.is_file():
            node22.mkdir(parents=True, exist_ok=True)
            (node22 / "package.json").write_text('{"name": "node22", "private": true}\n')
            _npm(["install", "node@22"], node22)
    if not _runs_provider(str(binary), folder):
        pytest.fail(f"neither {system} nor {binary} runs oidc-provider")
    return str(binary)


def loopback_host() -> str:
    """127.0.0.2 where it can be bound, so the provider is another site than authkit on
    127.0.0.1 (cookies are per host, not per port); 127.0.0.1 otherwise."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            return "127.0.0.1"
    return "127.0.0.2"


class OidcProvider:
    """oidc-provider on `host`:`port` with `clients` and `accounts` (see provider.mjs)."""

    def __init__(
        self,
        workdir: Path,
        clients: Sequence[ProviderClient],
        accounts: Sequence[ProviderAccount] = DEFAULT_ACCOUNTS,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.clients = tuple(clients)
        self.accounts = {account.id: account for account in accounts}
        self.host = host or loopback_host()
        self.port = port or free_port(self.host)
        self.issuer = f"http://{self.host}:{self.port}"
        installed = install_provider()
        self.node = node_binary(installed)
        # The script runs from this provider's own folder, beside a link to the shared
        # node_modules: a checkout with another provider.mjs never changes this one's.
        self.folder = workdir / f"oidc-provider-{self.port}"
        self.folder.mkdir(exist_ok=True)
        for name in ("package.json", "provider.mjs"):
            shutil.copy2(SOURCE / name, self.folder / name)
        if not (self.folder / "node_modules").exists():
            (self.folder / "node_modules").symlink_to(installed / "node_modules")
        self._key_file = self.folder / "signing-key.json"
        self._log_path = self.folder / "provider.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        answer = httpx.get(self.discovery_url, timeout=5.0)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
        return document

    def log(self) -> str:
        return (
            self._log_path.read_text("utf-8", errors="replace") if self._log_path.exists() else ""
        )

    def _config(self) -> str:
        return json.dumps(
            {
                "host": self.host,
                "port": self.port,
                "issuer": self.issuer,
                "keyFile": str(self._key_file),
                "clients": [
                    {
                        "client_id": c.client_id,
                        "client_secret": c.client_secret,
                        "redirect_uris": list(c.redirect_uris),
                        "token_endpoint_auth_method": c.token_endpoint_auth_method,
                    }
                    for c in self.clients
                ],
                "accounts": [
                    {k: v for k, v in attrs.asdict(a).items() if v is not None}
                    for a in self.accounts.values()
                ],
            }
        )

    def start(self) -> OidcProvider:
        if self._process is not None and self._process.poll() is None:
            return self
        env = {**os.environ, "OIDC_TEST_CONFIG": self._config(), "NODE_ENV": "test"}
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.node, "provider.mjs"],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited before answering:\n{self.log()}")
            try:
                if httpx.get(self.discovery_url, timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"oidc-provider gave no discovery within {STARTUP_TIMEOUT:.0f} s:\n{self.log()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the process; afterwards nothing listens on the port (connections refused)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGCONT)  # a paused one could not act on SIGTERM
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): the kernel still accepts connections on its port but
        nothing answers them, the way a provider that hangs looks to its clients."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGCONT)

    def restart(self) -> OidcProvider:
        self.stop()
        return self.start()

    def restart_with_a_new_key(self) -> OidcProvider:
        """A key rotation: the provider comes back signing with a key (and kid) never seen."""
        self.stop()
        self._key_file.unlink(missing_ok=True)
        return self.start()

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
