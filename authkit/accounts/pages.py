"""The two pages mailed links open: a button that confirms an address, a form that sets a
new password. Each posts the token back to its own path.

A link that changed something when merely opened would be followed by every mail
scanner that opens links to check them; a form is followed by a person. The pages
carry no script and load nothing; the token sits in the URL, so the pages tell the
browser to send no Referer and to store nothing.

The confirm page names the account the address would join: someone who put your
address on their account hopes you confirm without reading, and a button that says
"confirm alice@example.com for the account mallory" is the one place to stop that.

Example:

    page = verify_page("A" * 43, LinkFor("mallory", "alice@example.com"))
    # an HTMLResponse: whose account, and one button that posts the token
"""

from __future__ import annotations

from html import escape

import attrs
from starlette.responses import HTMLResponse

from authkit.accounts.tokens import well_formed

__all__ = ["LinkFor", "reset_page", "verify_page"]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""
_BROKEN = "<p>This link is incomplete. Open the whole link from the mail, or ask for a new one.</p>"
_DEAD = "<p>This link has expired or was used up. Ask for a new one if you still need it.</p>"


@attrs.frozen
class LinkFor:
    """Whose account a verification link is for, and the address it confirms."""

    username: str
    email: str
    # Followed already, and the address is still theirs: a second click sees that, not a form.
    confirmed: bool = False


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=title, body=body), status, headers=_HEADERS)


def verify_page(token: str | None, link: LinkFor | None) -> HTMLResponse:
    """`link`: what the token is for; None when it is not live (expired, used, unknown)."""
    if token is None or not well_formed(token):
        return _page("Confirm your email address", _BROKEN, 400)
    if link is None:
        return _page("Confirm your email address", _DEAD, 400)
    if link.confirmed:
        done = (
            f"<p><strong>{escape(link.email)}</strong> is confirmed as the address of the "
            f"account <strong>{escape(link.username)}</strong>. There is nothing more to do.</p>"
        )
        return _page("Your email address is confirmed", done)
    form = (
        f"<p>This confirms <strong>{escape(link.email)}</strong> as the address of the account "
        f"<strong>{escape(link.username)}</strong>. Whoever holds that account will receive "
        "its password resets.</p>"
        f"<p>If <strong>{escape(link.username)}</strong> is not your account, close this page: "
        "nothing changes.</p>"
        '<form method="post" action="verify">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Confirm my email address</button></form>'
    )
    return _page("Confirm your email address", form)


def reset_page(token: str | None, min_length: int, max_length: int) -> HTMLResponse:
    if token is None or not well_formed(token):
        return _page("Choose a new password", _BROKEN, 400)
    form = (
        '<form method="post" action="reset">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<label>New password <input type="password" name="password" '
        f'autocomplete="new-password" required minlength="{min_length}" '
        f'maxlength="{max_length}"></label> '
        '<button type="submit">Set the new password</button></form>'
    )
    return _page("Choose a new password", form)
