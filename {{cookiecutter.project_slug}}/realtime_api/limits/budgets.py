"""Budgets per user and per address: what all of one identity's sockets may cost.

The limits of overload.py bound one socket. Here the same kinds of cost are
bounded for everything one identity holds in this process: its user's (or,
for anonymous sockets, its client address's) sockets, frames a second,
signals a second, subscriptions and watches (PROTOCOL.md, "Limits and
overload"). The budgets are kept per server process: with several processes
behind a proxy each process grants its own (see README, "Limits").

A handshake over the socket budget is refused: HTTP 429 with `Retry-After`
where the server can say so (uvicorn and daphne: refusal.py), else as any
refused handshake (403).

The address is the client's as the server reports it (`scope["client"]`):
behind the deployed nginx, daphne's --proxy-headers makes that the address
nginx saw. REALTIME_API_TRUSTED_PROXIES lists proxies whose X-Real-IP (or
last X-Forwarded-For entry) is believed instead; a header from any other
peer is ignored, so a client cannot pick its own address. uvicorn believes
X-Forwarded-For from 127.0.0.1 unless told otherwise (--forwarded-allow-ips):
the guard puts the socket's real peer back (`with_real_peer`), so on uvicorn
only REALTIME_API_TRUSTED_PROXIES makes a header count.
"""

import ipaddress
import logging
import math
import time

from realtime_api import conf
from realtime_api.limits.flood import TokenBucket
from realtime_api.limits.refusal import Refusal, RefusalLog, refuse_with_status
from realtime_api.ops import metrics

logger = logging.getLogger(__name__)


# --- Whose budget a socket spends ------------------------------------------------


def client_address(scope):
    """The client's address: the peer's, or what a trusted proxy says it is."""
    peer = (scope.get("client") or ("unknown",))[0]
    if not is_trusted_proxy(peer):
        return peer
    headers = dict(scope.get("headers") or ())
    real_ip = headers.get(b"x-real-ip", b"").decode("latin-1").strip()
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    # The proxy appends the address it saw: the last entry is the one to trust.
    candidates = [real_ip, *reversed([a.strip() for a in forwarded.split(",")])]
    for candidate in candidates:
        if valid_address(candidate):
            return candidate
    return peer


def with_real_peer(scope, send):
    """The scope with the peer its socket really has, where the server changed it.

    uvicorn's protocol (whose bound method `send` is) keeps the connection's
    peer in `client`, and by default writes the X-Forwarded-For of a peer on
    127.0.0.1 into the scope: a client on the same machine would choose its
    own address. daphne's `send` is no bound method: its scope is what it
    reports (the peer, or with --proxy-headers, an operator's choice).
    """
    peer = getattr(getattr(send, "__self__", None), "client", None)
    if not peer or tuple(scope.get("client") or ()) == tuple(peer):
        return scope
    return {**scope, "client": tuple(peer)}


def is_trusted_proxy(address):
    networks = trusted_proxy_networks()
    if not networks or not valid_address(address):
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)


def trusted_proxy_networks():
    return [
        ipaddress.ip_network(entry, strict=False) for entry in conf.trusted_proxies()
    ]


def valid_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def identity(scope):
    """Whose budget a socket spends: "user-<pk>", or "address-<client address>"."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return f"user-{user.pk}"
    return f"address-{client_address(scope)}"


# --- The budgets ---------------------------------------------------------------


class Budget:
    """What the sockets of one identity hold and may spend, in this process."""

    def __init__(self):
        self.sockets = []  # its open sockets' consumers, oldest first
        self.frames = None  # TokenBucket shared by its sockets (made on use)
        self.signals = None  # TokenBucket of its signals (made on use)

    def frame_bucket(self):
        if self.frames is None:
            rate = conf.user_frame_rate()
            self.frames = TokenBucket(rate, conf.user_frame_burst()) if rate else None
        return self.frames

    def signal_wait(self):
        """Take a signal from the identity's allowance: 0, or seconds to wait."""
        if self.signals is None:
            rate, burst = conf.user_signal_rate()
            self.signals = TokenBucket(rate, burst)
        return self.signals.take()

    def held(self, attribute):
        """How many subscriptions or watches its sockets hold."""
        total = 0
        for socket in self.sockets:
            if attribute == "subscriptions":
                subscribers = (socket.subscribers or {}).values()
                total += sum(len(subscriber.filters) for subscriber in subscribers)
            else:
                total += len(socket.watches or ())
        return total

    def idle(self):
        """Nothing to remember: no socket, and its allowances are whole."""
        if self.sockets:
            return False
        buckets = [b for b in (self.frames, self.signals) if b is not None]
        return all(bucket.full_at() <= time.monotonic() for bucket in buckets)


class Budgets:
    """Every identity's budget in this process (one per Runtime)."""

    # Every this many new identities, those left with nothing are forgotten.
    SWEEP_EVERY = 1000

    def __init__(self):
        self.by_identity = {}
        self.made = 0

    def get(self, key):
        budget = self.by_identity.get(key)
        if budget is None:
            self.made += 1
            if self.made % self.SWEEP_EVERY == 0:
                self.forget_idle()
            budget = self.by_identity[key] = Budget()
        return budget

    def socket_limit(self, key):
        if key.startswith("user-"):
            return conf.max_sockets_per_user(), "REALTIME_API_MAX_SOCKETS_PER_USER"
        return conf.max_sockets_per_address(), "REALTIME_API_MAX_SOCKETS_PER_ADDRESS"

    def admit(self, key, socket):
        """Count a new socket of `key`; False when it is over its budget."""
        budget = self.get(key)
        limit, _ = self.socket_limit(key)
        if limit and len(budget.sockets) >= limit:
            return False
        budget.sockets.append(socket)
        return True

    def leave(self, key, socket):
        budget = self.by_identity.get(key)
        if budget is None:
            return
        if socket in budget.sockets:
            budget.sockets.remove(socket)
        if budget.idle():
            del self.by_identity[key]

    def forget_idle(self):
        for key in [k for k, b in self.by_identity.items() if b.idle()]:
            del self.by_identity[key]


# --- Refusing a handshake ------------------------------------------------------

RETRY_AFTER_SECONDS = 10

# A user opening hundreds of sockets over its budget: one line a second.
refusal_log = RefusalLog(logger)


async def refuse_handshake(consumer, detail, retry_after=RETRY_AFTER_SECONDS):
    """Refuse the handshake with HTTP 429 and Retry-After, where the server can.

    uvicorn and daphne can say it (refusal.py); elsewhere the refusal is a
    plain one (close before accept), which servers answer 403.
    """
    metrics.overload("sockets")
    seconds = max(1, math.ceil(retry_after))
    refusal_log.refused(Refusal(429, seconds, "socket_budget", detail))
    await refuse_with_status(
        consumer.scope, consumer.base_send, 429, [("Retry-After", str(seconds))], detail
    )
