"""What routes use: body reading, the one exception -> response mapping, OpenAPI
descriptions, the /docs page, and the HTTP settings (host, port, body size, CORS)."""
