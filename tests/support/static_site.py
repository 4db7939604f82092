"""A front end's pages served on loopback from a thread, for browser tests of redirect flows.

`StaticSite({"/app/": html, ...})` serves each page at its path (text/html, no-store) on a
free port of 127.0.0.1; anything else is a 404. `pages` is read at each request, so pages
that name the site's own URL (`url(path)`) can be added once it is made. A context manager.
The pages are the test's own: the site stands in for the single-page app a user runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["StaticSite"]


class StaticSite:
    def __init__(self, pages: Mapping[str, str]) -> None:
        site_pages = pages  # read at each request: a page may name the site's own URL

        class Pages(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                html = site_pages.get(urlsplit(self.path).path)
                body = html.encode("utf-8") if html is not None else None
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test's output is the test's

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> StaticSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
