"""HTTP views of the realtime API: socket tickets and the AsyncAPI document."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime_api.auth import tickets
from realtime_api.schema.asyncapi import build_document


class TicketView(APIView):
    """Issue a one-time ticket that opens one WebSocket as the requesting user.

    For browser pages on another origin, which cannot send the session
    cookie or an `Authorization` header with a WebSocket handshake: POST
    here (authenticated as for any API request), then open
    `/ws/?ticket=<ticket>` within `expires_in` seconds. The ticket, and the
    socket it opens, end with the session or token that minted it.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "RealtimeTicket",
                {
                    "ticket": serializers.CharField(),
                    "expires_in": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        ticket, seconds = tickets.issue(request.user, tickets.minted_by(request))
        response = Response(
            {"ticket": ticket, "expires_in": seconds}, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"  # A credential: never cached.
        return response


class AsyncAPIView(APIView):
    """The WebSocket API as an AsyncAPI 3.0 document (JSON)."""

    permission_classes = [AllowAny]
    schema = None  # Not an endpoint of the OpenAPI schema.

    def get(self, request):
        return Response(build_document(request=request))
