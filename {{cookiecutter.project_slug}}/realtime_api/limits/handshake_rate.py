"""Admission: how fast one address may open sockets, and how many open at once.

When a server process restarts, every socket it held reconnects at once, and
a socket accepted then dropped comes back within the client's shortest
backoff. Each handshake costs about 6.6 ms of CPU accepted and 5.5 ms
refused, so the storm alone can keep a process from ever catching up
(issues 23 and 28: 10,000 sockets on one process made 684,673 handshakes
and never converged). Two bounds, checked before anything else of a
handshake, keep a storm's cost bounded and tell the clients when to return:

- per client address, a token bucket: HANDSHAKE_RATE_PER_ADDRESS a second,
  HANDSHAKE_BURST_PER_ADDRESS at once. Past it: HTTP 429, Retry-After the
  seconds until the bucket lets one through.
- per process, handshakes in flight (started, neither accepted nor refused
  yet): past MAX_HANDSHAKES_IN_FLIGHT, HTTP 503 with a Retry-After of 1 to
  5 s, drawn at random so that the clients refused together do not come
  back together.

The address is the one budgets.py believes (the peer's, or what a trusted
proxy says). Refusals are logged at most once a second, as one INFO line
counting them: a storm must not become a storm of log lines.
"""

import logging
import math
import random
import time

from realtime_api import conf
from realtime_api.limits.budgets import client_address
from realtime_api.limits.flood import TokenBucket
from realtime_api.limits.refusal import Refusal, RefusalLog
from realtime_api.ops import metrics

logger = logging.getLogger(__name__)

# A 503's Retry-After, in whole seconds: spread over this range at random.
BUSY_RETRY_AFTER = (1, 5)

# The messages with which an application accepts or refuses a handshake.
DECIDED = {"websocket.accept", "websocket.close", "websocket.http.response.start"}


class AddressRates:
    """A token bucket of handshakes per client address, in this process."""

    # Every this many new addresses, the buckets that refilled are forgotten.
    SWEEP_EVERY = 1000

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.buckets = {}
        self.made = 0
        self.settings = None  # (rate, burst) the buckets were made with.

    def wait(self, address, rate, burst):
        """Take a handshake of `address`: 0, or the seconds until one is free."""
        return self.bucket(address, rate, burst).take()

    def bucket(self, address, rate, burst):
        """The TokenBucket of `address` (a full one if it has none yet)."""
        if self.settings != (rate, burst):
            self.buckets.clear()  # The settings changed (a test): start again.
            self.settings = (rate, burst)
        bucket = self.buckets.get(address)
        if bucket is None:
            self.made += 1
            if self.made % self.SWEEP_EVERY == 0:
                self.forget_full()
            bucket = self.buckets[address] = TokenBucket(rate, burst, self.clock)
        return bucket

    def forget_full(self):
        now = self.clock()
        for address in [a for a, b in self.buckets.items() if b.full_at() <= now]:
            del self.buckets[address]


class Admission:
    """Whether a handshake may start, and how many are in flight (one per process)."""

    def __init__(self, clock=time.monotonic):
        self.rates = AddressRates(clock)
        self.log = RefusalLog(logger, clock=clock)
        self.in_flight = 0

    def refusal(self, scope):
        """The Refusal of this handshake, or None when it may start."""
        limit = conf.max_handshakes_in_flight()
        if limit and self.in_flight >= limit:
            return self.refused(
                Refusal(
                    503,
                    random.randint(*BUSY_RETRY_AFTER),
                    "in_flight",
                    f"The server is opening {limit} sockets already "
                    "(REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT): retry after "
                    "Retry-After seconds.",
                )
            )
        rate = conf.handshake_rate_per_address()
        if not rate:
            return None
        burst = conf.handshake_burst_per_address()
        wait = self.rates.wait(client_address(scope), rate, burst)
        if not wait:
            return None
        return self.refused(
            Refusal(
                429,
                max(1, math.ceil(wait)),
                "rate",
                f"Too many handshakes from one address: {rate:g} a second, "
                f"{burst} at once (REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS, "
                "REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS): retry after "
                "Retry-After seconds.",
            )
        )

    def refused(self, refusal):
        metrics.overload(f"handshake_{refusal.kind}")
        self.log.refused(refusal)
        return refusal

    def track(self, receive, send):
        """Count this handshake in flight until it is decided: (receive, send).

        It is decided when the application accepts or refuses it, or the
        client goes first (websocket.disconnect); `Handshake.done()` also ends
        it, for an application that returns without saying.
        """
        self.in_flight += 1
        return Handshake(self, receive, send)


class Handshake:
    """One handshake in flight: its receive and send, watched for the decision."""

    def __init__(self, admission, receive, send):
        self.admission = admission
        self.inner_receive = receive
        self.inner_send = send
        self.deciding = True

    async def receive(self):
        message = await self.inner_receive()
        if self.deciding and message["type"] == "websocket.disconnect":
            self.done()
        return message

    async def send(self, message):
        if self.deciding and message["type"] in DECIDED:
            self.done()
        return await self.inner_send(message)

    def done(self):
        if self.deciding:
            self.deciding = False
            self.admission.in_flight -= 1
