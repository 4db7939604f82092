"""nginx in front of several authkit hosts, as docs/deployment.md configures it, for the
scale-out test (tests/scaleout).

`Nginx(workdir, upstreams)` writes a configuration into `workdir` and runs the Debian
package's nginx on a free loopback port in the foreground; `stop()` ends it. Every
response carries `X-Upstream`: the host (or hosts, comma-separated, when nginx moved on
to the next) that answered, so a test can tell which host served each request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from authkit.storage.embedded import free_port

__all__ = ["NGINX", "Nginx", "nginx_config", "nginx_executable"]

NGINX = "/usr/sbin/nginx"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# How long nginx leaves a host it saw fail before trying it again: the time a restarted
# host waits to get traffic back.
FAIL_TIMEOUT_SECONDS = 2


def nginx_executable() -> str | None:
    """nginx on PATH, or where Debian puts it (/usr/sbin is not on every PATH)."""
    return shutil.which("nginx") or (NGINX if os.path.exists(NGINX) else None)


def nginx_config(workdir: Path, port: int, upstreams: Sequence[str]) -> str:
    """The configuration: round robin over `upstreams` ("address:port"); a host that
    refuses the connection or times out is skipped for the request and for a while."""
    servers = "\n".join(
        f"        server {u} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECONDS}s;" for u in upstreams
    )
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
worker_processes 1;
user root;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
{temp}
    upstream authkit {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://authkit;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;  # with its port: cookie mode compares it with Origin
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 1s;
            # A POST that reached a host is never sent to a second one (nginx's default
            # without `non_idempotent`): a sign-up must not be tried twice.
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, workdir: Path, upstreams: Sequence[str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (workdir / "temp" / kind).mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = workdir / "nginx.conf"
        config.write_text(nginx_config(workdir, self.port, upstreams))
        executable = nginx_executable() or NGINX
        self._log = (workdir / "nginx.out").open("wb")
        self.process = subprocess.Popen(
            [executable, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def errors(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text("utf-8", errors="replace") if path.exists() else ""

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{self.errors()}")
            try:
                httpx.get(self.base_url + "/healthz", timeout=1.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not answer:\n{self.errors()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGQUIT is nginx's graceful stop; a stuck one gets SIGKILL.
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            # Its worker, should it outlive the master.
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
