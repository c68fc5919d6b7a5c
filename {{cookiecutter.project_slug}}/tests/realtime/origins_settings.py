"""The daphne server of test_live_origins.py: the project behind a TLS proxy.

As production runs it (SECURE_PROXY_SSL_HEADER), with the proxy's
X-Forwarded-Host trusted too and trusted origins of both kinds (exact and
wildcard), so that every part of Django's CSRF Origin check is exercised.
ALLOWED_HOSTS comes from DJANGO_ALLOWED_HOSTS, as in development.
"""

from config.settings.test import *  # noqa: F403

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
CSRF_TRUSTED_ORIGINS = [
    "https://trusted.example",
    "http://plain.example:8080",
    "https://*.wild.example",
]
