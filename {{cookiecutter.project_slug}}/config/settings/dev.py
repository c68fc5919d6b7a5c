"""Development settings: the default of manage.py and config/asgi.py."""

from .base import *  # noqa: F403
from .base import env
from .environment import secret_from_env

DEBUG = True

# The generated .env holds a random DJANGO_SECRET_KEY; without it this
# well-known key is used, which is fine on a developer machine only.
SECRET_KEY = secret_from_env(
    env,
    "DJANGO_SECRET_KEY",
    default="django-insecure-dev-only-0c3k9d1f8z2m4q7w6e5r1t3y9u8i0o2p4a6s8d0f",
)

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["localhost", "127.0.0.1", "[::1]", "testserver"],
)
