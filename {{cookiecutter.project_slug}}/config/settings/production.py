"""Production settings: DJANGO_SETTINGS_MODULE=config.settings.production.

DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS are required; importing these
settings without them fails with ImproperlyConfigured naming the variable.
Check a deployment with `python manage.py check --deploy --fail-level WARNING`.
https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env
from .environment import secret_from_env

DEBUG = False

# --- Required -------------------------------------------------------------------------

SECRET_KEY = secret_from_env(env, "DJANGO_SECRET_KEY")

# Comma-separated host names, e.g. "api.example.com,www.example.com". WebSocket
# handshakes with a cookie or ticket are accepted only from an Origin Django's
# CSRF check accepts (this host's own, or CSRF_TRUSTED_ORIGINS).
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "Set the DJANGO_ALLOWED_HOSTS environment variable to a comma-separated "
        "list of host names, e.g. 'api.example.com'."
    )

# Full origins (scheme included) allowed to send unsafe requests, e.g.
# "https://app.example.com". https://docs.djangoproject.com/en/5.2/ref/settings/#csrf-trusted-origins
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ----------------------------------------------------------------------------
# Behind a proxy that terminates TLS and sets X-Forwarded-Proto (run daphne
# with --proxy-headers). https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# HSTS: browsers refuse plain HTTP for this many seconds. Start small; raise to
# 31536000 (a year) once HTTPS works everywhere, subdomains included.
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Static files ---------------------------------------------------------------------
# `collectstatic` writes compressed copies and content-hashed names, which
# WhiteNoise (and nginx, deploy/nginx.conf) serve with far-future caching.
# https://whitenoise.readthedocs.io/en/stable/django.html#add-compression-and-caching-support

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
