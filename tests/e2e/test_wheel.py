"""The wheel as a user gets it: built from this checkout, installed with its `[embedded]`
extra into a fresh venv (dependencies from the package index), and run from a folder of
the user's own that has an `app.py` and a `config.py` of its own.

- The wheel, and the venv's site-packages, hold one top-level package of ours, `authkit`
  (the repository's `strategies/` inside it as `authkit.strategies`), and no top-level
  `app`, `config` or `strategies`: those names are the user's.
- `<venv>/bin/authkit --version` prints the wheel's version.
- `<venv>/bin/authkit serve` in the user's folder, with nothing configured, starts the
  embedded database, serves signup, signin, /auth/me and the account page's files, and
  on SIGTERM exits 0 and stops the database. The user's app.py and config.py exit the
  interpreter if imported.

Nothing runs with this checkout on sys.path: no PYTHONPATH (or any other PYTHON*
variable), the venv's own interpreter, and a working directory outside the checkout.
Building and installing take most of the time (about a minute with a warm pip cache).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from support.processes import embedded_db_port, port_closed

if TYPE_CHECKING:
    from support.processes import AppProcess

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300  # seconds: pip fetches setuptools into an isolated build environment
INSTALL_TIMEOUT = 600  # seconds: the dependencies come from the package index
COMMAND_TIMEOUT = 60
STARTUP_TIMEOUT = 60  # a fresh venv on a busy 2-core machine: imports, embedded database
STOP_TIMEOUT = 30

USER_FILE = 'raise SystemExit("the user\'s {name} was imported by authkit")\n'
CREDENTIALS = {"username": "wheeler", "password": "Passw0rd!x"}
# What a checkout or a test run may leave behind that a build must not see.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".authkit", ".artifacts", ".env",
    "node_modules",
)  # fmt: skip


def isolated_env(venv: Path | None = None) -> dict[str, str]:
    """os.environ without any PYTHON* variable (PYTHONPATH above all) or authkit setting;
    with `venv`, that venv's bin/ first on PATH and as VIRTUAL_ENV, as after `activate`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "AUTHKIT_", "VIRTUAL_ENV"))
        and k not in {"JWT_SECRET", "MONGO_URI", "PORT", "HOST", "BCRYPT_ROUNDS"}
    }
    env["PYTHONNOUSERSITE"] = "1"  # nothing from ~/.local either
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.defpath}"
    return env


def run(
    args: Sequence[str], *, timeout: float, cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a command that must exit 0 within `timeout` seconds; fail with its output if not."""
    try:
        done = subprocess.run(
            list(args),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(args)} still running after {timeout:.0f} s:\n{exc.stderr!r}")
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


class Installed:
    """The built wheel and the venv it was installed into."""

    def __init__(self, wheel: Path, venv: Path, purelib: Path, seconds: dict[str, float]):
        self.wheel = wheel
        self.venv = venv
        self.purelib = purelib
        self.seconds = seconds

    @property
    def version(self) -> str:
        return self.wheel.name.split("-")[1]

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the checkout and install `wheel[embedded]` into a new venv.

    A copy, because setuptools builds in the source tree: it would write build/ and an
    egg-info into the checkout, and a stale build/lib from an earlier build (a module since
    moved or deleted) would end up in the wheel.
    """
    base = tmp_path_factory.mktemp("wheel")
    seconds: dict[str, float] = {}
    env = isolated_env()

    started = time.monotonic()
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    dist = base / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        timeout=BUILD_TIMEOUT,
        cwd=base,
        env=env,
    )
    (wheel,) = dist.glob("authkit_asgi-*.whl")
    seconds["build"] = time.monotonic() - started

    started = time.monotonic()
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=COMMAND_TIMEOUT, cwd=base, env=env)
    python = str(venv / "bin" / "python")
    run(
        [python, "-I", "-m", "pip", "install", "-q", f"{wheel}[embedded]"],
        timeout=INSTALL_TIMEOUT,
        cwd=base,
        env=isolated_env(venv),
    )
    seconds["venv and install"] = time.monotonic() - started
    where = run(
        [python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        timeout=COMMAND_TIMEOUT,
        cwd=base,
        env=isolated_env(venv),
    )
    purelib = Path(where.stdout.strip())
    print(f"wheel {wheel.name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return Installed(wheel, venv, purelib, seconds)


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A project of the user's, outside the checkout, whose app.py and config.py must not be
    imported by authkit (each ends the interpreter it is imported into)."""
    folder = tmp_path / "my-project"
    folder.mkdir()
    for name in ("app.py", "config.py"):
        (folder / name).write_text(USER_FILE.format(name=name), "utf-8")
    return folder


def top_level(names: Sequence[str]) -> set[str]:
    return {name.split("/")[0] for name in names}


def test_the_wheel_holds_only_the_authkit_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        dist_info = f"authkit_asgi-{installed.version}.dist-info"
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()

    assert top_level(names) == {"authkit", dist_info}
    for module in ("local", "jwt", "anonymous"):  # the repository's strategies/ folder
        assert f"authkit/strategies/{module}.py" in names
    assert "authkit/py.typed" in names
    assert re.search(r"^authkit = authkit\.cli\.main:main$", entry_points, re.M), entry_points
    assert "local = authkit.strategies.local:LocalStrategy" in entry_points


def test_the_venv_has_no_top_level_app_config_or_strategies(installed: Installed) -> None:
    purelib = installed.purelib
    entries = {path.name for path in purelib.iterdir()}
    theirs = {
        name
        for name in entries
        if name.removesuffix(".py") in {"app", "config", "strategies"}
        or name.split(".")[0] in {"app", "config", "strategies"}
    }
    assert theirs == set(), f"in {purelib}"

    # Everything this wheel installed is authkit/, its dist-info, or the `authkit` script.
    (dist_info,) = purelib.glob("authkit_asgi-*.dist-info")
    record = (dist_info / "RECORD").read_text("utf-8").splitlines()
    paths = [line.split(",")[0] for line in record if line]
    outside = [
        p for p in paths if p.split("/")[0] not in {"authkit", dist_info.name} and "/bin/" not in p
    ]
    assert outside == []
    assert (purelib / "authkit" / "strategies" / "jwt.py").is_file()

    # Nothing points back at the checkout: no editable install, no .pth naming it.
    for pth in purelib.glob("*.pth"):
        assert str(ROOT) not in pth.read_text("utf-8", errors="replace"), pth
    assert str(ROOT) not in (dist_info / "RECORD").read_text("utf-8")


def test_authkit_imports_from_the_venv_beside_the_users_own_modules(
    installed: Installed, user_folder: Path
) -> None:
    # `python -c` puts the working directory first on sys.path, as `uvicorn app:app` does:
    # authkit must import from site-packages and never reach for the user's app or config.
    code = (
        "import json, sys, authkit, authkit.asgi, authkit.cli.main, authkit.strategies.jwt\n"
        "print(json.dumps({'file': authkit.__file__, 'version': authkit.__version__,"
        " 'path': sys.path, 'modules': sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('app', 'config', 'strategies'))}))\n"
    )
    done = run(
        [installed.bin("python"), "-c", code],
        timeout=COMMAND_TIMEOUT,
        cwd=user_folder,
        env=isolated_env(installed.venv),
    )
    found: dict[str, Any] = json.loads(done.stdout)
    assert Path(found["file"]).resolve().is_relative_to(installed.purelib.resolve())
    assert found["version"] == installed.version
    assert found["modules"] == []
    assert not any(str(ROOT) in entry for entry in found["path"]), found["path"]


def test_version_of_the_installed_command(installed: Installed, user_folder: Path) -> None:
    done = run(
        [installed.bin("authkit"), "--version"],
        timeout=COMMAND_TIMEOUT,
        cwd=user_folder,
        env=isolated_env(installed.venv),
    )
    assert (done.stdout, done.stderr) == (f"authkit {installed.version}\n", "")


def wait_healthy(server: AppProcess, timeout: float) -> None:
    """Poll GET /healthz until it answers 200; fail at once if the server exits."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            pytest.fail(
                f"authkit serve exited with {server.process.returncode}:\n{server.stderr()}"
            )
        try:
            if httpx.get(server.base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no 200 from /healthz within {timeout:.0f} s:\n{server.stderr()}")
        time.sleep(0.1)


def test_installed_serve_runs_in_the_users_folder_and_stops_on_sigterm(
    installed: Installed, user_folder: Path, launch: Callable[..., AppProcess]
) -> None:
    # No MONGO_URI and no JWT_SECRET: the first run as README.md describes it. launch()
    # starts from the environment cleaned of authkit's variables; the PYTHON* ones go too.
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PYTHON")}
    env.update(isolated_env(installed.venv))
    env.update({"PYTHONUNBUFFERED": "1", "BCRYPT_ROUNDS": "4", "JWT_EXPIRES_IN": "1h"})
    server = launch(
        ["serve", "--port", "{port}"],
        env,
        cwd=user_folder,
        wait=False,
        executable=installed.bin("authkit"),
    )
    wait_healthy(server, STARTUP_TIMEOUT)
    db_port = embedded_db_port(server.stderr())

    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        health = http.get("/healthz")
        assert health.status_code == 200, health.text
        signup = http.post("/auth/signup", json=CREDENTIALS)
        assert (signup.status_code, signup.content) == (201, b""), signup.text
        signin = http.post("/auth/signin", data=CREDENTIALS)
        assert signin.status_code == 201, signin.text
        body = signin.json()
        assert set(body) == {"accessToken", "refreshToken"}, body
        me = http.get("/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
        assert me.status_code == 200, me.text
        profile = me.json()
        assert set(profile) == {"_id", "username"}, profile
        assert profile["username"] == CREDENTIALS["username"]
        assert re.fullmatch(r"[0-9a-f]{24}", profile["_id"]), profile
        # The account page's files are package data: in the wheel, served from it.
        for path in ("/account", "/account/static/account.js", "/account/static/account.css"):
            page = http.get(path)
            assert (page.status_code, bool(page.text)) == (200, True), path

    # It kept to the user's folder: its secret in ./.env, the database under ./.authkit/db.
    assert (user_folder / ".env").is_file()
    assert any((user_folder / ".authkit" / "db").iterdir())

    server.send(signal.SIGTERM)
    try:
        code = server.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"authkit serve still running {STOP_TIMEOUT} s after SIGTERM:\n{server.stderr()}"
        )
    stderr = server.stderr()
    problems = []
    if code != 0:
        problems.append(f"exit status {code} after SIGTERM, not 0")
    if server.children_alive():
        problems.append("the embedded database outlived authkit serve")
    if not port_closed(db_port):
        problems.append(f"the embedded database still listens on port {db_port}")
    if "was imported by authkit" in stderr:
        problems.append("it imported the user's app.py or config.py")
    assert not problems, "; ".join(problems) + "\n" + stderr
