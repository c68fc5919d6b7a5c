"""The test app's settings with SignedExpiringToken (expiring_token.py): for daphne."""

from .testapp.settings import *  # noqa: F403
from .testapp.settings import REST_FRAMEWORK

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        *REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
        "tests.realtime.expiring_token.SignedExpiringToken",
    ],
}
