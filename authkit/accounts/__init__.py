"""Accounts, the email side: addresses and their verification, password reset and change,
deleting one's own account."""
