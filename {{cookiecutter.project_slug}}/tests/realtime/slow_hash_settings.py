"""The test settings with Django's real password hasher (PBKDF2, ~0.25 s).

For live servers whose test is about what checking a password costs.
"""

from config.settings.test import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
