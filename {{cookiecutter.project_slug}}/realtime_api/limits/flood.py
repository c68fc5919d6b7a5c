"""Flood control: how many frames one socket may send, counted as they arrive.

A token bucket per socket lets `rate` frames a second through on average and
`burst` at once. A frame over it is refused: answered 429 with `wait` (the
seconds until the bucket lets one through again) and not run.

Refused frames draw on a second allowance of the same rate and burst: a
client that sent a burst before it heard of its first 429 spends some of it
and is forgiven as it slows down. A socket that goes on sending after being
told (more than twice its rate, for longer than its burst lasts) runs out of
it and is closed with 4008.

Reconnecting renews nothing: `FloodLedger` hands a new socket of the same
user (or, for anonymous sockets, address) what the last one that closed left
of its allowance, until that would have refilled anyway. A socket closed
4008 leaves a penalty behind (recorded when it is closed, not when it goes):
for as long as its refusals take to refill (burst / rate seconds) a new
socket of its identity is closed with 4008 before it is read from, and
starts the penalty again.
"""

import math
import time
from collections import OrderedDict


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; starts full."""

    # Two per socket, and one per user: no __dict__ for each.
    __slots__ = ("burst", "clock", "rate", "stamp", "tokens")

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()

    def refill(self):
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self):
        """0 if a token is there (none is taken), else the seconds until one."""
        self.refill()
        return 0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self):
        """Take a token: return 0 if there was one, else the seconds until one."""
        self.refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return (1 - self.tokens) / self.rate

    def full_at(self):
        """When the bucket will be full again (clock time)."""
        return self.stamp + (self.burst - self.tokens) / self.rate


class FloodControl:
    """The verdict on each frame of one socket, at the moment it arrives.

    `rate` None lets every frame through; refusals for other reasons (too
    many requests waiting) still count towards the close.
    """

    # One per socket: no __dict__ for each.
    __slots__ = (
        "clock",
        "frames",
        "penalized_until",
        "refusals",
        "shared",
        "shared_refused",
    )

    def __init__(self, rate, burst, clock=time.monotonic):
        # A bucket shared with the other sockets of the same user (budgets.py):
        # a frame takes a token from both, and is refused if either has none.
        self.shared: TokenBucket | None = None
        self.clock = clock
        self.frames = TokenBucket(rate, burst, clock) if rate else None
        self.refusals = TokenBucket(rate or burst, burst, clock)
        self.shared_refused = False  # The last refusal was the shared bucket's.
        self.penalized_until = 0.0  # Closed 4008: new sockets too, until then.

    def arrive(self):
        """Return 0 to let the frame through, or the seconds to `wait` (ms)."""
        self.shared_refused = False
        wait = self.frames.take() if self.frames is not None else 0
        if not wait and self.shared is not None:
            wait = self.shared.take()
            if wait:
                self.shared_refused = True
                if self.frames is not None:  # Not spent: the frame is refused.
                    self.frames.tokens += 1
        return math.ceil(wait * 1000) / 1000 if wait else 0

    def refused(self):
        """Count a refused frame; True once the socket has run out of refusals."""
        return bool(self.refusals.take())

    def exhausted(self):
        """True while no refusal is left, or in a penalty: closed 4008 at once."""
        self.refusals.refill()
        return self.clock() < self.penalized_until or self.refusals.tokens < 1

    def penalize(self):
        """Closed 4008: sockets of its identity are closed at once for as long
        as its refusals take to refill (burst / rate seconds), from now.

        A socket reconnecting within that time starts it again.
        """
        refill = self.refusals.burst / self.refusals.rate
        self.penalized_until = self.clock() + refill

    def full_at(self):
        """When both allowances will be whole again (clock time)."""
        buckets = [b for b in (self.frames, self.refusals) if b is not None]
        return max(self.penalized_until, *(bucket.full_at() for bucket in buckets))


class FloodLedger:
    """What the sockets that closed left of their allowance, by identity.

    One per process (the Runtime's). Entries leave once their allowance
    would be whole again, and the oldest go first past `size` identities.
    """

    def __init__(self, size=10_000, clock=time.monotonic):
        self.size = size
        self.clock = clock
        self.kept = OrderedDict()  # identity -> FloodControl

    def take(self, identity, rate, burst):
        """The flood control of a new socket of `identity`."""
        flood = self.kept.pop(identity, None)
        if flood is not None and flood.full_at() > self.clock():
            return flood
        return FloodControl(rate, burst, self.clock)

    def keep(self, identity, flood):
        """A socket of `identity` closed: remember what it left."""
        if flood.full_at() <= self.clock():
            return
        self.kept[identity] = flood
        self.kept.move_to_end(identity)
        while len(self.kept) > self.size:
            self.kept.popitem(last=False)
