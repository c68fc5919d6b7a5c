"""The OpenAPI 3 schema at /api/schema/ and its docs page at /api/docs/."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from config.urls import router

pytestmark = pytest.mark.django_db


def schema():
    response = Client().get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    return response.json()


def path_shape(path):
    """A path with its parameters unnamed: /api/topics/{id}/ -> /api/topics/{}/.

    drf-spectacular names a `pk` parameter after the model's primary key.
    """
    return re.sub(r"\{\w+\}", "{}", path)


def openapi_path(route):
    """A router URL regex as a path shape: ^topics/(?P<pk>[^/.]+)/$ -> ..."""
    path = route.pattern.regex.pattern.lstrip("^").rstrip("$")
    return "/api/" + re.sub(r"\(\?P<\w+>[^)]*\)", "{}", path)


def test_schema_is_valid_openapi_3_without_warnings(tmp_path):
    """drf-spectacular validates the schema against the OpenAPI 3 JSON schema."""
    output = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", output)
    assert yaml.safe_load(output.read_text())["openapi"].startswith("3.")


def test_schema_lists_every_route_of_the_router():
    """Every URL the router registers is described, and the socket's ticket view."""
    routes = {
        openapi_path(route)
        for route in router.urls
        if route.name != "api-root" and "format" not in route.pattern.regex.groupindex
    }
    routes.add("/api/realtime/ticket/")
    assert {path_shape(path) for path in schema()["paths"]} == routes


def test_docs_page_loads_swagger_ui_from_this_server():
    """The docs page points at the schema and loads no script from elsewhere."""
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/schema/" in page
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert scripts and all(src.startswith("/static/") for src in scripts)
