"""Mail bodies from templates: a subject, a plain-text body and an HTML body per kind.

The package ships `<kind>.subject`, `<kind>.txt` and `<kind>.html` for each kind of
mail (`verify_email`, `reset_password`; and two notices: `email_in_use`, to an address's
owner when someone asks for it on another account, and `password_changed`, to a user's
verified address when their password changes) in authkit/mail/templates/. An operator
replaces any of them by putting a file of the same name in the folder
AUTHKIT_MAIL_TEMPLATES names; the files it lacks come from the package, and an
empty `<kind>.html` sends plain text only. Templates are `string.Template`s:
`$username`, `$email`, `$link`, `$token` and `$minutes`. Values are HTML-escaped in
the HTML body. A template that names another placeholder, or cannot be read, stops
the start (`check`), not a request.

Example:

    templates = MailTemplates()          # or MailTemplates(Path("/etc/authkit/mail"))
    templates.check()
    values = {"username": "alice", "email": "alice@example.com", "link": "https://...",
              "token": "...", "minutes": "30"}
    subject, text, html = templates.render("reset_password", values)
"""

from __future__ import annotations

import html as html_escaping
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from string import Template

import attrs

from authkit.core.errors import ConfigError

__all__ = ["KINDS", "PLACEHOLDERS", "MailTemplates"]

KINDS = ("verify_email", "reset_password", "email_in_use", "password_changed")
PLACEHOLDERS = ("username", "email", "link", "token", "minutes")
_PARTS = ("subject", "txt", "html")


@attrs.frozen
class MailTemplates:
    # The operator's folder (AUTHKIT_MAIL_TEMPLATES); None: the package's templates only.
    folder: Path | None = None
    # Read once: a request that mails costs no file reads (forgot-password answers in the
    # same time whether or not it mails). A changed template takes effect at restart.
    _read: dict[str, str] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    def _source(self, kind: str, part: str) -> str:
        name = f"{kind}.{part}"
        if name not in self._read:
            if self.folder is not None and (self.folder / name).is_file():
                text = (self.folder / name).read_text("utf-8")
            else:
                packaged = resources.files("authkit.mail") / "templates" / name
                text = packaged.read_text("utf-8")
            self._read[name] = text
        return self._read[name]

    def check(self) -> None:
        """ConfigError unless every template reads and names only known placeholders."""
        if self.folder is not None and not self.folder.is_dir():
            raise ConfigError(f"AUTHKIT_MAIL_TEMPLATES: {self.folder} is not a folder")
        sample = dict.fromkeys(PLACEHOLDERS, "x")
        for kind in KINDS:
            try:
                self.render(kind, sample)
            except (KeyError, ValueError, OSError) as exc:
                raise ConfigError(
                    f"mail template {kind}: {type(exc).__name__} {exc} (placeholders: "
                    f"{', '.join('$' + p for p in PLACEHOLDERS)})"
                ) from None

    def render(self, kind: str, values: Mapping[str, str]) -> tuple[str, str, str | None]:
        """The subject (one line), the text body and the HTML body (None when empty)."""
        subject = Template(self._source(kind, "subject")).substitute(values)
        text = Template(self._source(kind, "txt")).substitute(values)
        html_source = self._source(kind, "html")
        escaped = {key: html_escaping.escape(value) for key, value in values.items()}
        html = Template(html_source).substitute(escaped) if html_source.strip() else None
        # A header holds one line: a value with a line break must not start a second one.
        return " ".join(subject.split()), text, html
