"""A scripted user agent for the redirect dance of an OAuth 2 / OpenID Connect sign-in.

`UserAgent` is one browser (one cookie jar, httpx, no automatic redirects): `follow(url,
stop_at=...)` requests `url` and goes where the answers send it, filling oidc-provider's
development login page (any password) and consent page on the way, until the next URL
starts with one of `stop_at` (returned unrequested: the test decides whether to open it).
`deny_on="login"` (or "consent") presses that page's "[ Cancel ]" link instead of filling it,
which makes the provider answer the client with error=access_denied. Every request is kept
in `journal` as (method, URL, status), the way a browser's network panel shows a flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from html.parser import HTMLParser
from urllib.parse import urljoin

import attrs
import httpx

__all__ = ["FlowError", "Step", "UserAgent"]

MAX_STEPS = 25  # a sign-in is about ten requests; more means a loop


class FlowError(AssertionError):
    """The flow went somewhere a sign-in does not go (a page it cannot fill, an error)."""


@attrs.frozen
class Step:
    method: str
    url: str
    status: int

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"


@attrs.define
class _Form:
    action: str
    method: str
    fields: dict[str, str] = attrs.field(factory=dict)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attributes}
        if tag == "form":
            self.forms.append(_Form(values.get("action", ""), values.get("method", "get")))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "a":
            self._href, self._text = values.get("href", ""), ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._text.strip(), self._href))
            self._href = None


class UserAgent:
    """One browser's worth of cookies walking redirects and the provider's pages."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=timeout)
        self.journal: list[Step] = []

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> UserAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
        self.journal.append(Step(method, url, response.status_code))
        return response

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def follow(
        self,
        url: str,
        stop_at: str | Sequence[str],
        *,
        login: str = "alice",
        password: str = "any-password",  # noqa: S107 - the dev login takes any
        deny_on: str | None = None,
    ) -> str:
        """Go from `url` to the first URL starting with a prefix in `stop_at`, and return it."""
        prefixes = (stop_at,) if isinstance(stop_at, str) else tuple(stop_at)
        method, data = "GET", None
        for _ in range(MAX_STEPS):
            if method == "GET" and url.startswith(prefixes):
                return url
            response = self.request(method, url, data=data)
            method, data = "GET", None
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200 or "html" not in response.headers.get(
                "content-type", ""
            ):
                raise FlowError(f"{url} answered {response.status_code}: {response.text[:500]}")
            page = _PageParser()
            page.feed(response.text)
            form = next((f for f in page.forms if "prompt" in f.fields), None)
            if form is None:
                raise FlowError(f"{url} is not a login or consent page: {response.text[:500]}")
            fields = dict(form.fields)
            if fields["prompt"] == deny_on:
                cancel = [href for text, href in page.links if "Cancel" in text]
                if not cancel:
                    raise FlowError(f"no Cancel link on {url}: {response.text[:500]}")
                url = urljoin(url, cancel[0])
                continue
            if fields["prompt"] == "login":
                fields.update(login=login, password=password)
            method, url, data = form.method.upper(), urljoin(url, form.action), fields
        raise FlowError(f"no URL starting with {prefixes} after {MAX_STEPS} requests")
