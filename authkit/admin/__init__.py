"""User administration: routes for holders of the admin role and `authkit users ...`."""
