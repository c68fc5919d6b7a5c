"""The live demo page: topics and comments that update from WebSocket events.

Everything on the page goes over the socket (realtime_api/static/realtime_api/
realtime.js), so the page needs no CSRF token except for its logout form.
"""

from django.shortcuts import render
from django.templatetags.static import static

from realtime_api.api import websocket_path


def demo(request):
    """Render the demo page; its script does the rest over the socket."""
    user = request.user
    config = {
        "socketPath": "/" + websocket_path().lstrip("/"),
        "clientUrl": static("realtime_api/realtime.js"),
        "user": user.username if user.is_authenticated else None,
        "userId": user.pk if user.is_authenticated else None,
        "isStaff": user.is_staff,
    }
    return render(request, "discussion/demo.html", {"config": config})
