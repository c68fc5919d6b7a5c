"""URL configuration: the admin, the REST API and its login views.

https://docs.djangoproject.com/en/5.2/topics/http/urls/
"""

from django.contrib import admin
from django.urls import include, path
{%- if cookiecutter.include_sample_app == "n" %}
from django.views.generic import RedirectView
{%- endif %}
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

{% if cookiecutter.include_sample_app == "y" -%}
from discussion.pages import demo
from discussion.views import CommentViewSet, TopicViewSet
{% endif -%}
from realtime_api.api import metrics_view

# Register each viewset here: it is served at /api/<prefix>/.
router = DefaultRouter()
{%- if cookiecutter.include_sample_app == "y" %}
router.register("topics", TopicViewSet, basename="topic")
router.register("comments", CommentViewSet, basename="comment")
{%- endif %}

urlpatterns = [
{%- if cookiecutter.include_sample_app == "y" %}
    # The live demo page: topics and comments, updated over the WebSocket.
    path("", demo, name="home"),
{%- else %}
    path("", RedirectView.as_view(pattern_name="api-root"), name="home"),
{%- endif %}
    path("admin/", admin.site.urls),
    # Socket tickets and the AsyncAPI document of the WebSocket API.
    path("api/realtime/", include("realtime_api.urls")),
    # The OpenAPI 3 schema of the router's views, and Swagger UI to try them.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include(router.urls)),
    # Log in and out of the browsable API.
    path("api-auth/", include("rest_framework.urls")),
    # Prometheus metrics, for staff and METRICS_TOKEN (realtime_api/ops/metrics.py).
    # /healthz and /readyz are answered earlier, by the middleware of
    # realtime_api/ops/health.py.
    path("metrics", metrics_view, name="metrics"),
]
