"""Running it: /healthz and /readyz, JSON logs with request ids, Prometheus metrics."""
