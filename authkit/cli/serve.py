"""`authkit serve`: the service under uvicorn, with the embedded database when MONGO_URI is
unset, a JWT_SECRET written to .env on the first run, and a clean stop on SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from authkit.cli.common import add_common_options, embedded, load_settings_for, say

__all__ = ["SERVICE_APP", "add_serve_command"]

SERVICE_APP = "authkit.asgi:app"

_FLAG_SETTINGS = {
    "trusted_proxies": "AUTHKIT_TRUSTED_PROXIES",
    "receive_timeout": "AUTHKIT_RECEIVE_TIMEOUT",
}


def add_serve_command(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (embedded database when MONGO_URI is unset)",
        description="Run the HTTP service with uvicorn. Without JWT_SECRET, writes a new one "
        "to the env file; without MONGO_URI, runs an embedded database over --data-dir.",
    )
    serve.add_argument("--host", help="interface to listen on (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--app",
        default=SERVICE_APP,
        metavar="MODULE:ATTRIBUTE",
        help="the ASGI application to run, e.g. app:app for your own app.py "
        "(default: authkit's service, authkit.asgi:app)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=30,
        help="seconds to let requests in flight finish after SIGTERM (default: 30)",
    )
    serve.add_argument(
        "--trusted-proxies",
        metavar="ADDRESSES",
        help="comma-separated addresses or CIDR networks of the proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto to believe (default: AUTHKIT_TRUSTED_PROXIES, or none)",
    )
    serve.add_argument(
        "--receive-timeout",
        type=int,
        metavar="SECONDS",
        help="seconds a client has to send a whole request before its connection is closed "
        "(default: AUTHKIT_RECEIVE_TIMEOUT, or 10)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    add_common_options(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from authkit.http.client_address import forwarded_allow_ips
    from authkit.http.receive_deadline import receive_deadline_protocol
    from authkit.settings.catalog import catalog
    from authkit.settings.loader import ensure_local_secret, read_env_file
    from authkit.settings.plugins import plugin_sections
    from authkit.social.settings import provider_variables

    env_file = Path(args.env_file)
    if ensure_local_secret(env_file, os.environ):
        say(
            f"no JWT_SECRET was set, so a new random one was written to {env_file.resolve()} "
            "(mode 0600). Keep that file private; tokens signed with it stop working if it "
            "changes."
        )
    # The flags are the settings they name, checked as those are, and seen by the workers.
    for flag, variable in _FLAG_SETTINGS.items():
        if getattr(args, flag) is not None:
            os.environ[variable] = str(getattr(args, flag))
    settings = load_settings_for(args)
    # Workers are fresh processes that read only the environment and ./.env: hand them
    # what this process read, whichever env file it was, plugins' settings included.
    known = {e.env.name for e in catalog()} | {
        e.env.name for plugin in plugin_sections() for e in plugin.entries
    }
    # Social sign-in providers' own variables, named after the providers listed.
    known |= {name for c in settings.oauth_clients for name in provider_variables(c.name)}
    for key, value in read_env_file(env_file, dict.fromkeys(known)).items():
        os.environ.setdefault(key, value)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    proxies = settings.server.trusted_proxies
    with contextlib.ExitStack() as stack:
        uri = settings.mongo.uri
        if uri is None:
            uri = stack.enter_context(embedded(Path(args.data_dir), serve=True)).uri
            os.environ["MONGO_URI"] = uri
            say(
                f"no MONGO_URI set; started the embedded database at {uri} "
                f"(data in {Path(args.data_dir).resolve()}; other authkit commands use it "
                "while this runs)"
            )
        # uvicorn answers SIGTERM by shutting down and then raising the signal again
        # with the handler it found; make that handler a clean exit, so the `with`
        # above stops the embedded database instead of the process dying first.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        if args.app != SERVICE_APP:
            # An application of the operator's, as uvicorn's own command finds one: from
            # the working directory. authkit's own service is found by its package name.
            sys.path.insert(0, os.getcwd())
        uvicorn.run(
            args.app,
            host=host,
            port=port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,  # authkit writes its own access line, with the request id
            timeout_graceful_shutdown=args.graceful_timeout,
            # uvicorn believes X-Forwarded-* from 127.0.0.1 unless told otherwise: any local
            # process could then pick its own address. Only the proxies named are believed.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=forwarded_allow_ips(proxies) or None,
            http=receive_deadline_protocol(settings.server.receive_timeout),
        )
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
