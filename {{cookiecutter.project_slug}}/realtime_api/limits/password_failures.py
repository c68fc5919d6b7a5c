"""Wrong passwords per client address: past a few, refused before any hash.

Checking an `Authorization: Basic` password costs a PBKDF2 (about 0.25 s of
a core) whoever sends it, with an account or without: a flood of wrong
passwords from one address kept a core busy hashing, and the other sockets
of the process waited for the CPU (issue 23, the bench's bad-basic attack).
As django-axes does for logins, one client address may get
REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS passwords wrong, forgiven one by
one over REALTIME_API_PASSWORD_FAILURE_SECONDS (a token bucket). Past that
its Basic handshakes are answered HTTP 429 with Retry-After before anything
is hashed (handshake_guard.py), a right password included: telling it apart
would cost the hash the limit saves.

Counted per server process, like the budgets, for the address budgets.py
believes. HTTP requests with a Basic password spend the same allowance
(auth/basic.py's CountedBasicAuthentication).
"""

import math
import time

from django.core.signals import setting_changed

from realtime_api import conf
from realtime_api.limits.budgets import client_address
from realtime_api.limits.handshake_rate import AddressRates
from realtime_api.limits.refusal import Refusal


def asks_password(scope):
    """Whether the handshake sends `Authorization: Basic` (a password to hash)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            return value[:6].lower() == b"basic "
    return False


class PasswordFailures:
    """Wrong passwords per client address, in this process."""

    def __init__(self, clock=time.monotonic):
        self.rates = AddressRates(clock)

    def bucket(self, scope):
        """The address's allowance of wrong passwords, or None without a limit."""
        limit = conf.password_failures_per_address()
        if not limit:
            return None
        rate = limit / conf.password_failure_seconds()
        return self.rates.bucket(client_address(scope), rate, limit)

    def refusal(self, scope):
        """A 429 Refusal when the Basic handshake's address has none left."""
        if not asks_password(scope):
            return None
        bucket = self.bucket(scope)
        wait = bucket.wait() if bucket is not None else 0
        if not wait:
            return None
        limit = conf.password_failures_per_address()
        seconds = conf.password_failure_seconds()
        return Refusal(
            429,
            max(1, math.ceil(wait)),
            "password_failures",
            f"Too many wrong passwords from one address: {limit} in {seconds:g} s "
            "(REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS, "
            "REALTIME_API_PASSWORD_FAILURE_SECONDS): retry after Retry-After "
            "seconds.",
        )

    def failed(self, scope):
        """Count a Basic password that was checked and found wrong."""
        if not asks_password(scope):
            return
        bucket = self.bucket(scope)
        if bucket is not None:
            bucket.take()

    def forget(self, **kwargs):
        self.rates.buckets.clear()


# One per process: the guard checks it, header authentication counts into it.
failures = PasswordFailures()
# A test's settings start every address afresh (as AddressRates does when
# its own settings change).
setting_changed.connect(failures.forget, dispatch_uid="realtime_api.password_failures")
