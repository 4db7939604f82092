"""Hosts of our own on this machine: network namespaces on one private bridge, with the root
namespace (where the test and nginx run) as one more host on it.

- `netns_unavailable()`: why namespaces cannot be made here (not root, no `ip`), or None.
- `Lan(prefix)`: a bridge in a namespace of its own on a /24 nobody here routes yet;
  `lan.add_host("db")` makes namespace `<prefix>-db` with one interface on the bridge and
  returns its address; `lan.start(host, args, env, logs)` runs `python <args>` there.
  Leaving its `with` kills what it started (and anything else left in its namespaces),
  then deletes every namespace and link it made, whatever the test did.

Namespaces are named from `prefix`, unique per run (`new_prefix()`), so runs of several
people on one machine never meet. The addresses are 10.X.Y.0/24 with X.Y drawn per run
and checked against every address and route of the root namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["HostProcess", "Lan", "netns_unavailable", "new_prefix"]

IP_TIMEOUT = 10.0  # seconds; an `ip` command that takes longer than this is stuck
STOP_TIMEOUT = 10.0


def netns_unavailable() -> str | None:
    """Why this machine cannot give the test namespaces of its own, or None if it can."""
    if sys.platform != "linux":
        return "network namespaces are Linux-only"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"akprobe{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def new_prefix() -> str:
    """A short per-run name: interface names must stay within 15 characters."""
    return "ak" + secrets.token_hex(3)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _unused_subnet() -> ipaddress.IPv4Network:
    """A 10.X.Y.0/24 that no address or route of the root namespace overlaps."""
    taken = [
        ipaddress.ip_network(word, strict=False)
        for line in (_ip("-4", "-o", "addr").stdout + _ip("-4", "route").stdout).splitlines()
        for word in line.split()
        if word[0].isdigit() and ("/" in word or word.count(".") == 3)
    ]
    for _ in range(100):
        subnet = ipaddress.IPv4Network(
            f"10.{200 + secrets.randbelow(55)}.{secrets.randbelow(256)}.0/24"
        )
        if not any(subnet.overlaps(net) for net in taken):
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 for the test's network")


class HostProcess:
    """One server process in a namespace, in a process group of its own."""

    def __init__(
        self, namespace: str, args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> None:
        self.log = log
        with log.open("ab") as out:
            # `ip netns exec` execs the command: the pid is the server's own.
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", namespace, sys.executable, *args],
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group, as a host that loses power: nothing runs a handler."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


class Lan:
    """A private /24: a bridge in namespace `<prefix>-lan`, the root namespace at .1 and each
    added host at .2, .3 ... (see the module docstring)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.namespaces: list[str] = []
        self.processes: list[HostProcess] = []
        self._root_link = f"{prefix}r"
        self._subnet = _unused_subnet()
        self._hosts = self._subnet.hosts()
        self.root_address = str(next(self._hosts))
        try:
            self._bridge_ns = self._namespace("lan")
            _ip("-n", self._bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self._bridge_ns, "link", "set", "br0", "up")
            peer = f"{prefix}pr"
            _ip(
                "link",
                "add",
                self._root_link,
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "netns",
                self._bridge_ns,
            )
            self._attach(peer)
            _ip("addr", "add", f"{self.root_address}/24", "dev", self._root_link)
            _ip("link", "set", self._root_link, "up")
        except BaseException:
            self.close()
            raise

    def _namespace(self, name: str) -> str:
        namespace = f"{self.prefix}-{name}"
        _ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        _ip("-n", namespace, "link", "set", "lo", "up")
        return namespace

    def _attach(self, port: str) -> None:
        _ip("-n", self._bridge_ns, "link", "set", port, "master", "br0")
        _ip("-n", self._bridge_ns, "link", "set", port, "up")

    def add_host(self, name: str) -> str:
        """Namespace `<prefix>-<name>` with eth0 on the bridge; returns eth0's address."""
        namespace = self._namespace(name)
        address = str(next(self._hosts))
        link, peer = f"{self.prefix}{len(self.namespaces)}", f"{self.prefix}p{len(self.namespaces)}"
        _ip(
            "link",
            "add",
            link,
            "netns",
            namespace,
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "netns",
            self._bridge_ns,
        )
        _ip("-n", namespace, "link", "set", link, "name", "eth0")
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        self._attach(peer)
        return address

    def start(
        self, host: str, args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> HostProcess:
        """`python <args>` in host `host`'s namespace, output appended to `log`."""
        process = HostProcess(f"{self.prefix}-{host}", args, env, cwd, log)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        for namespace in self.namespaces:
            # Whatever else runs in there (a grandchild that left its group) goes too, or
            # the namespace would outlive its deletion.
            pids = _ip("netns", "pids", namespace, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and any(
            _ip("netns", "pids", ns, check=False).stdout.strip() for ns in self.namespaces
        ):
            time.sleep(0.05)
        _ip("link", "del", self._root_link, check=False)
        for namespace in reversed(self.namespaces):
            _ip("netns", "del", namespace, check=False)

    def __enter__(self) -> Lan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
