"""Installing what the benchmark needs when it is absent.

- the commands wrk_bench.sh runs (wrk, curl, flock, taskset, ss), through apt-get as root;
- the FastAPI-Users peer's pinned requirements, in a venv under .bench/peer-venv;
- the NestJS reference, copied to .bench/nest-seed (so that node_modules and the build stay
  out of the checkout) and installed there with `npm ci` from its package-lock.json.

The peer and the NestJS app are in tests/bench/peers/ (or BENCH_PEERS); without
node and npm the NestJS target is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from harness.common import PEERS_DIR, STATE_DIR, say, tail

__all__ = [
    "SetupFailed",
    "TargetUnavailable",
    "ensure_state_dir",
    "ensure_tools",
    "find_peers",
    "prepare_nest",
    "prepare_peer",
]

# command -> the Debian package that has it
COMMANDS = {
    "wrk": "wrk",
    "curl": "curl",
    "flock": "util-linux",
    "taskset": "util-linux",
    "ss": "iproute2",
}
NEST_FILES = ("src", "package.json", "package-lock.json", "tsconfig.json", "run.sh")


class TargetUnavailable(Exception):
    """A target's prerequisites are not on this machine: it is skipped, with this reason."""


class SetupFailed(Exception):
    """Installing something failed: the run stops or the target fails, with this reason."""


def ensure_state_dir() -> Path:
    """.bench/ at the repository root, ignored by git through its own .gitignore."""
    STATE_DIR.mkdir(exist_ok=True)
    ignore = STATE_DIR / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("# made by tests/bench/run.py: installs and logs, never committed\n*\n")
    return STATE_DIR


def _run_logged(argv: list[str], log: Path, cwd: Path | None = None, timeout: float = 1800) -> bool:
    """Run `argv` with its output appended to `log`; True when it exits 0."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(log, "ab") as output:
        output.write(f"\n$ {' '.join(argv)}\n".encode())
        output.flush()
        try:
            done = subprocess.run(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def ensure_tools() -> None:
    """Install the missing commands with apt-get when root; else SetupFailed saying which."""
    missing = sorted(cmd for cmd in COMMANDS if shutil.which(cmd) is None)
    if not missing:
        return
    packages = sorted({COMMANDS[cmd] for cmd in missing})
    how = f"apt-get install -y {' '.join(packages)}"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SetupFailed(f"missing command(s): {', '.join(missing)}; install them: sudo {how}")
    log = ensure_state_dir() / "apt.log"
    say(f"installing {', '.join(packages)} with apt-get (log: {log})")
    installed = _run_logged(["apt-get", "install", "-y", "-q", *packages], log)
    if not installed:  # an empty or stale package list: update it once, then retry
        installed = _run_logged(["apt-get", "update", "-q"], log) and _run_logged(
            ["apt-get", "install", "-y", "-q", *packages], log
        )
    still = sorted(cmd for cmd in COMMANDS if shutil.which(cmd) is None)
    if not installed or still:
        raise SetupFailed(f"`{how}` failed (missing: {', '.join(still)}); see {log}: {tail(log)}")


def find_peers() -> tuple[Path | None, str]:
    """The peers' folder and where it was looked for."""
    given = bool(os.environ.get("BENCH_PEERS"))
    where = f"{PEERS_DIR} ({'BENCH_PEERS' if given else 'tests/bench/peers'})"
    return (PEERS_DIR.resolve() if PEERS_DIR.is_dir() else None), where


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare_peer(peers: Path | None, where: str) -> Path:
    """The peer's venv (.bench/peer-venv), with its requirements.txt installed; its folder."""
    folder = peers / "fastapi-users-peer" if peers else None
    if folder is None or not (folder / "run.sh").is_file():
        raise TargetUnavailable(f"the FastAPI-Users peer is not in the peers' folder {where}")
    requirements = folder / "requirements.txt"
    venv = ensure_state_dir() / "peer-venv"
    stamp = venv / ".requirements.sha256"
    if stamp.is_file() and stamp.read_text() == _digest(requirements):
        return folder
    log = STATE_DIR / "peer-venv-install.log"
    say(f"installing the peer's requirements into {venv} (first run only; log: {log})")
    ok = _run_logged([sys.executable, "-m", "venv", "--clear", str(venv)], log) and _run_logged(
        [str(venv / "bin" / "pip"), "install", "-q", "-r", str(requirements)], log
    )
    if not ok:
        raise SetupFailed(f"installing the peer's requirements failed; see {log}: {tail(log)}")
    stamp.write_text(_digest(requirements))
    return folder


def _make_writable(path: Path) -> None:
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if not item.is_symlink():
            item.chmod(item.stat().st_mode | stat.S_IWUSR)


def prepare_nest(peers: Path | None, where: str) -> Path:
    """A copy of the NestJS reference in .bench/nest-seed, `npm ci` and tsc done."""
    reference = peers / "nest-seed" if peers else None
    if reference is None or not (reference / "run.sh").is_file():
        raise TargetUnavailable(f"the NestJS reference is not in the peers' folder {where}")
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise TargetUnavailable(f"the NestJS reference needs {' and '.join(missing)} on PATH")
    target = ensure_state_dir() / "nest-seed"
    target.mkdir(exist_ok=True)
    for name in NEST_FILES:  # fresh sources every run; node_modules is kept
        source, copy = reference / name, target / name
        if copy.exists():
            _make_writable(copy)
            if copy.is_dir():
                shutil.rmtree(copy)
            else:
                copy.unlink()
        if source.is_dir():
            shutil.copytree(source, copy)
        else:
            shutil.copy2(source, copy)  # keeps mtimes: run.sh compares the lockfile's
        _make_writable(copy)
    log = STATE_DIR / "nest-install.log"
    lock, installed = target / "package-lock.json", target / "node_modules" / ".package-lock.json"
    if not installed.is_file() or lock.stat().st_mtime > installed.stat().st_mtime:
        say(f"npm ci in {target} (first run only; log: {log})")
        if not _run_logged(["npm", "ci", "--no-audit", "--no-fund"], log, cwd=target):
            raise SetupFailed(f"`npm ci` failed in {target}; see {log}: {tail(log)}")
    # run.sh compiles at every start too; compiling here reports a broken build up front.
    if not _run_logged(["npx", "--no-install", "tsc", "-p", "tsconfig.json"], log, cwd=target):
        raise SetupFailed(f"the NestJS app does not compile; see {log}: {tail(log)}")
    return target
