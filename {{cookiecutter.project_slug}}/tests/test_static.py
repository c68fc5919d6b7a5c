"""Static files without a proxy: WhiteNoise serves what collectstatic wrote."""

import json

import pytest
from django.test import Client

# As in config/settings/production.py; the deploy tests (-m deploy) run
# the production settings themselves.
PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
SCRIPT = "realtime_api/realtime.js"


@pytest.fixture
def served_static(settings, collected_static):
    """Production's static settings, DEBUG off, on the collected files."""
    settings.DEBUG = False
    settings.STATIC_ROOT = str(collected_static)
    settings.STORAGES = PRODUCTION_STORAGES
    settings.WHITENOISE_AUTOREFRESH = False
    return collected_static


def hashed_name(static_root, name):
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return manifest["paths"][name]


def test_hashed_static_file_is_served_compressed_and_cached_for_ever(served_static):
    """A content-hashed name: the file's bytes, gzipped on request, immutable."""
    url = f"/static/{hashed_name(served_static, SCRIPT)}"
    response = Client().get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == (served_static / SCRIPT).read_bytes()
    assert "immutable" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/javascript")

    gzipped = Client().get(url, headers={"Accept-Encoding": "gzip"})
    assert gzipped["Content-Encoding"] == "gzip"


def test_unhashed_static_file_is_served_but_not_cached_for_ever(served_static):
    """The plain name works too (an ES module imports it), with a short cache."""
    response = Client().get(f"/static/{SCRIPT}")
    assert response.status_code == 200
    assert "immutable" not in response["Cache-Control"]


def test_missing_static_file_is_a_404(served_static):
    assert Client().get("/static/realtime_api/nothing.js").status_code == 404
