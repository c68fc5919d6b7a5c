"""What the client raises: everything the realtime API refused is a RealtimeError."""


class RealtimeError(Exception):
    """Anything the realtime API refused."""


class RequestError(RealtimeError):
    """A request answered with an error status, or not answered at all.

    `status` and `data` are the response's (the HTTP status and body the
    same request gets over HTTP); both are None when no answer came.
    """

    def __init__(self, message, frame=None):
        super().__init__(message)
        self.frame = frame
        self.status = frame.get("status") if frame else None
        self.data = frame.get("data") if frame else None


# Refusals that say "later", not "never" (PROTOCOL.md, "Reconnecting clients").
TEMPORARY = (429, 503)


class HandshakeRefused(RealtimeError):
    """The server refused to open the socket.

    HTTP 403: wrong credentials, or no Origin it accepts: `temporary` is
    False, and retrying changes nothing. 429 (too many handshakes from this
    address) and 503 (the server is busy opening sockets): `temporary`, and
    `retry_after` says how many seconds to wait first (None if not said).
    """

    def __init__(self, status, body=b"", retry_after=None):
        super().__init__(f"The server refused the WebSocket handshake: HTTP {status}.")
        self.status = status
        self.body = body
        self.retry_after = seconds(retry_after)
        self.temporary = status in TEMPORARY


def seconds(retry_after):
    """Retry-After's delay-seconds as a number; None if absent or an HTTP date."""
    try:
        return max(0.0, float(retry_after))
    except (TypeError, ValueError):
        return None
