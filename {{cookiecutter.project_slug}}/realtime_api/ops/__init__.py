"""Ops: what running the app in production needs.

`metrics` (Prometheus, /metrics), `health` (/healthz and /readyz), and
`redis_connection` (one REDIS_URL: a plain server or a Sentinel-watched
primary, read by the settings too).

Imports: `conf` and `protocol` only, so that anything may import it.
"""
