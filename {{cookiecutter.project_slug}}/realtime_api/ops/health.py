"""Health probes for load balancers and process managers: /healthz and /readyz.

- ``/healthz``: the process answers (its event loop runs). Touches nothing
  else, so a database outage does not get every process restarted.
- ``/readyz``: the database and the channel layer answer; 503 with a JSON
  body naming what failed, so a load balancer sends no new traffic here.

They are answered by a middleware placed first, before ALLOWED_HOSTS and the
HTTPS redirect: a load balancer probes each process by its address over
plain HTTP, which those would refuse. The paths are fixed, for the same
reason: probes are configured outside the project.
"""

import asyncio
import logging
from typing import Any

from asgiref.sync import (
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)
from channels.layers import get_channel_layer
from django.db import connections
from django.http import JsonResponse

from realtime_api.from_sync import call_async

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# Seconds each readiness check may take: a probe must answer before the load
# balancer's own timeout, even when a server does not answer at all.
CHECK_TIMEOUT = 3
# A group nobody joins: sending to it is a round trip to the layer's server
# that leaves no state behind.
PROBE_GROUP = "realtime-readyz"


def check_database():
    """Run a query on every configured database."""
    for connection in connections.all():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


async def check_channel_layer():
    """Send a message through the channel layer (to a group with no members)."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(PROBE_GROUP, {"type": "readyz"})


CHECKS = {
    # In the thread of sync views, whose connections Django closes when due.
    "database": sync_to_async(check_database),
    "channel_layer": check_channel_layer,
}


async def run_check(name, check):
    """Return "ok", or what failed (the exception's type; details go to the log)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check()
    except TimeoutError:
        logger.warning("Readiness: %s did not answer within %s s", name, CHECK_TIMEOUT)
        return f"no answer within {CHECK_TIMEOUT} s"
    except Exception as exc:
        logger.warning("Readiness: %s failed", name, exc_info=True)
        return f"unreachable ({type(exc).__name__})"
    return "ok"


async def readiness():
    """Return the /readyz response: every check, 503 if any failed."""
    results = await asyncio.gather(*(run_check(n, c) for n, c in CHECKS.items()))
    checks = dict(zip(CHECKS, results, strict=True))
    failed = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, Any] = {
        "status": "unavailable" if failed else "ok",
        "checks": checks,
    }
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def liveness():
    return JsonResponse({"status": "ok"})


class HealthCheckMiddleware:
    """Answer GET/HEAD /healthz and /readyz before any other middleware."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        if request.method in ("GET", "HEAD"):
            if request.path == HEALTH_PATH:
                return liveness()
            if request.path == READY_PATH:
                return call_async(readiness)
        return self.get_response(request)

    async def __acall__(self, request):
        if request.method in ("GET", "HEAD"):
            if request.path == HEALTH_PATH:
                return liveness()
            if request.path == READY_PATH:
                return await readiness()
        return await self.get_response(request)
