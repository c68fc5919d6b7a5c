"""HTTP URLs of the realtime API, included at /api/realtime/ by config/urls.py."""

from django.urls import path

from realtime_api.views import AsyncAPIView, TicketView

urlpatterns = [
    path("ticket/", TicketView.as_view(), name="realtime-ticket"),
    path("asyncapi.json", AsyncAPIView.as_view(), name="realtime-asyncapi"),
]
