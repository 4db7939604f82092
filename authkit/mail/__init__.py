"""Mail: the sender protocol, SMTP and development senders, templates, background delivery."""
