"""When to reconnect: backoff with jitter, reset only by a socket that lasted.

After a server process restarts, all its clients reconnect at once. A client
that reset its backoff as soon as a socket opened would, when that socket is
dropped again at once (its process restarting again, a budget closing it),
start over from the shortest wait: thousands of sockets retrying twice a
second keep a server from ever catching up (PROTOCOL.md, "Reconnecting
clients"). So the backoff resets only once a socket has stayed open
STABLE_AFTER seconds, and a handshake refused with 429 or 503 waits the
server's Retry-After first.
"""

import random
import time

# A socket closed for flooding (PROTOCOL.md, 4008) comes back this much later.
FLOODING, FLOODING_DELAY = 4008, 5.0

# Seconds a socket must stay open before the next reconnect starts from the
# shortest wait again.
STABLE_AFTER = 5.0


def reconnect_delay(attempt, min_delay, max_delay, close_code=None):
    """Seconds to wait before reconnect `attempt` (0, 1, ...) after `close_code`.

    Doubling from `min_delay` up to `max_delay`, with jitter (a random half
    of it) so that the clients of a restarted server do not come back at
    once; 5 s at least after 4008.
    """
    ceiling = min(max_delay, min_delay * 2**attempt)
    delay = ceiling / 2 + random.random() * ceiling / 2
    if close_code == FLOODING:
        delay = max(delay, FLOODING_DELAY)
    return delay


def after_retry_after(retry_after, delay):
    """`delay`, or the server's Retry-After plus up to half of it again, if longer.

    The clients refused together must not come back together either.
    """
    if retry_after is None:
        return delay
    return max(delay, retry_after + random.random() * retry_after / 2)


class Backoff:
    """The waits between one client's reconnect attempts.

    Call `opened()` when a socket opens and `next_delay()` before each
    attempt. `stable_after=0` resets on every open (the old behaviour).
    """

    def __init__(
        self,
        min_delay=0.5,
        max_delay=10.0,
        stable_after=STABLE_AFTER,
        clock=time.monotonic,
    ):
        self.min_delay, self.max_delay = min_delay, max_delay
        self.stable_after = stable_after
        self.clock = clock
        self.attempt = 0  # Attempts since the last socket that lasted.
        self.opened_at = None  # When the current socket opened.

    def opened(self):
        self.opened_at = self.clock()

    def next_delay(self, close_code=None, retry_after=None):
        """Seconds to wait before the next attempt (and count it)."""
        if self.opened_at is not None:
            if self.clock() - self.opened_at >= self.stable_after:
                self.attempt = 0
            self.opened_at = None
        bounds = self.min_delay, self.max_delay
        delay = reconnect_delay(self.attempt, *bounds, close_code)
        self.attempt += 1
        return after_retry_after(retry_after, delay)
