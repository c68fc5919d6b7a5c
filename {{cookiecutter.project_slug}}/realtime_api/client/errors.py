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


class HandshakeRefused(RealtimeError):
    """The server refused to open the socket (HTTP 403: wrong credentials)."""

    def __init__(self, status, body=b""):
        super().__init__(f"The server refused the WebSocket handshake: HTTP {status}.")
        self.status = status
        self.body = body
