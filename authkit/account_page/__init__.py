"""GET /account: a small page where a signed-in user manages sessions and second factors."""
