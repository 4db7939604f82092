"""The servers under test, and how each one is started on SERVER_CPU.

    authkit  this checkout's app.py under uvicorn (the venv running the harness)
    hello    a bare Starlette JSON hello under the same uvicorn: the ceiling for /auth/me
    peer     FastAPI-Users 15 (tests/bench/peers/fastapi-users-peer) through its run.sh
    nest     the NestJS tutorial app (tests/bench/peers/nest-seed) through its run.sh

Each start command ends in an `exec` of the server, so the pid we get is the server's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from authkit.settings import ENV_VARS
from harness.common import BENCH_DIR, ROOT, SERVER_CPU, STATE_DIR
from harness.tools import SetupFailed, TargetUnavailable, prepare_nest, prepare_peer

__all__ = [
    "AUTHKIT_SETTINGS",
    "TARGET_NAMES",
    "Launch",
    "Target",
    "authkit_launch",
    "hello_launch",
    "passed_settings",
    "peer_launch",
    "prepare_targets",
]

TARGET_NAMES = ("authkit", "authkit-quiet", "hello", "peer", "nest")
# Measured unless --targets says otherwise; authkit-quiet (no access log) is opt-in.
DEFAULT_TARGETS = ("authkit", "hello", "peer", "nest")

# authkit's settings for the run: the reference's bcrypt cost, tokens that outlive the run;
# all else as shipped. The sign-in limits stay on: they count failures, and the benchmark's
# signins all succeed, so they cost their query per signin and never answer 429.
# The sign-up limit is off (the signup scenario makes thousands of users from one
# address), and the password queue holds every connection wrk opens, so the peers'
# throughput is compared with authkit's, not with how fast it sheds 503s.
AUTHKIT_SETTINGS = {
    "BCRYPT_ROUNDS": "10",
    "JWT_EXPIRES_IN": "1h",
    "AUTHKIT_SIGNUP_LIMIT_ADDRESS": "off",
    "AUTHKIT_PASSWORD_QUEUE": "256",
}


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class Target:
    """A server to measure: `launch(port, mongo_uri, jwt_secret, workdir)` says how to start it.

    Example:

        launch = target.launch(3101, "mongodb://127.0.0.1:27017/bench_nest_r1", secret, workdir)
        Server.start(target.name, launch.argv, launch.env, launch.cwd, workdir / "server.log")
    """

    name: str
    label: str
    auth: bool  # False for the hello baseline: only `GET /`, no auth routes
    start_timeout: float
    launch: Callable[[int, str, str, Path], Launch]


def _pinned(*argv: str, cpus: str = str(SERVER_CPU)) -> list[str]:
    return ["taskset", "-c", cpus, *argv]


def _base_env() -> dict[str, str]:
    """This environment without any authkit setting (authkit refuses unknown AUTHKIT_*)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AUTHKIT_") and k not in ENV_VARS and k not in ("PYTHONPATH",)
    }


def passed_settings() -> dict[str, str]:
    """The authkit settings in this environment (AUTHKIT_*, and the names authkit reads), for
    the paired measurements, which pass them through: `AUTHKIT_ACCESS_LOG=false run.py paired`.
    """
    return {k: v for k, v in os.environ.items() if k.startswith("AUTHKIT_") or k in ENV_VARS}


def _uvicorn(app: str, port: int, *extra: str, cpus: str = str(SERVER_CPU)) -> list[str]:
    return _pinned(
        sys.executable, "-m", "uvicorn", app, *extra, "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", cpus=cpus,
    )  # fmt: skip


def authkit_launch(
    port: int, mongo_uri: str, secret: str, workdir: Path, *, cpus: str = str(SERVER_CPU),
    workers: int | None = None, tree: Path = ROOT, settings: Mapping[str, str] | None = None,
) -> Launch:  # fmt: skip
    """authkit on `cpus` (a taskset list: "0", "0,1"): `uvicorn app:app` as the main table
    runs it, or with `workers`, `python -m authkit serve --workers N` on MONGO_URI.

    The CPUs are always given: the harness itself runs on LOAD_CPU only, and what it starts
    inherits that. authkit's bcrypt pool sizes itself to the CPUs it may use at start.
    `tree`: the checkout whose code runs (another `git worktree`, for before/after);
    `settings`: authkit settings to add (the bench's own, AUTHKIT_SETTINGS, win).
    """
    # PYTHONPATH: the tree's app.py and packages, whichever authkit the venv has installed.
    # cwd: an empty folder, so no developer's ./.env is read.
    env = {
        **_base_env(),
        **(settings or {}),
        **AUTHKIT_SETTINGS,
        "MONGO_URI": mongo_uri,
        "JWT_SECRET": secret,
        "PYTHONPATH": str(tree),
    }
    if workers is None:
        return Launch(_uvicorn("app:app", port, cpus=cpus), env, workdir)
    argv = _pinned(
        sys.executable, "-m", "authkit", "serve", "--workers", str(workers),
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", cpus=cpus,
    )  # fmt: skip
    return Launch(argv, env, workdir)


def _authkit(tree: Path, quiet: bool = False) -> Callable[[int, str, str, Path], Launch]:
    def launch(port: int, mongo_uri: str, secret: str, workdir: Path) -> Launch:
        started = authkit_launch(port, mongo_uri, secret, workdir, tree=tree)
        if not quiet:
            return started
        # For a deployment whose proxy already logs each request: the access line is off.
        return Launch(started.argv, {**started.env, "AUTHKIT_ACCESS_LOG": "false"}, started.cwd)

    return launch


def hello_launch(
    port: int, workdir: Path, *, cpus: str = str(SERVER_CPU), workers: int | None = None
) -> Launch:
    """The Starlette hello on `cpus`; with `workers`, uvicorn's own `--workers N`."""
    extra = ("--workers", str(workers)) if workers is not None else ()
    argv = _uvicorn("hello_starlette:app", port, "--app-dir", str(BENCH_DIR), *extra, cpus=cpus)
    return Launch(argv, _base_env(), workdir)


def _hello(port: int, mongo_uri: str, secret: str, workdir: Path) -> Launch:
    return hello_launch(port, workdir)


def peer_launch(folder: Path) -> Callable[[int, str, str, Path], Launch]:
    def launch(port: int, mongo_uri: str, secret: str, workdir: Path) -> Launch:
        env = {
            **_base_env(),
            "VENV": str(STATE_DIR / "peer-venv"),
            "PORT": str(port),
            "MONGO_URI": mongo_uri,
            "JWT_SECRET": secret,
        }
        env.pop("VIRTUAL_ENV", None)
        return Launch(_pinned("bash", str(folder / "run.sh")), env, workdir)

    return launch


def _nest(folder: Path) -> Callable[[int, str, str, Path], Launch]:
    def launch(port: int, mongo_uri: str, secret: str, workdir: Path) -> Launch:
        env = {**_base_env(), "PORT": str(port), "MONGO_URI": mongo_uri, "JWT_SECRET": secret}
        return Launch(_pinned("bash", str(folder / "run.sh")), env, workdir)

    return launch


def prepare_targets(
    names: list[str], peers: Path | None, where: str, tree: Path = ROOT
) -> tuple[list[Target], dict[str, str], dict[str, str]]:
    """The targets ready to run, those skipped (prerequisite missing) and those that failed
    to install, each with its reason; authkit runs `tree`'s code. Installs the peer's venv
    and the NestJS app if needed."""
    ready: list[Target] = []
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    for name in names:
        try:
            if name == "authkit":
                ready.append(Target("authkit", "authkit", True, 60, _authkit(tree)))
            elif name == "authkit-quiet":
                label = "authkit, no access log"
                ready.append(Target("authkit-quiet", label, True, 60, _authkit(tree, quiet=True)))
            elif name == "hello":
                ready.append(Target("hello", "hello (GET /)", False, 60, _hello))
            elif name == "peer":
                folder = prepare_peer(peers, where)
                ready.append(Target("peer", "FastAPI-Users", True, 90, peer_launch(folder)))
            elif name == "nest":
                folder = prepare_nest(peers, where)
                # run.sh runs tsc before node starts
                ready.append(Target("nest", "NestJS", True, 300, _nest(folder)))
        except TargetUnavailable as exc:
            skipped[name] = str(exc)
        except SetupFailed as exc:
            failed[name] = str(exc)
    return ready, skipped, failed
