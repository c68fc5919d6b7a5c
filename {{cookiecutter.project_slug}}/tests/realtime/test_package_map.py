"""The realtime app's map: each package says what it does and imports, and
the README's map lists every package."""

import ast
from pathlib import Path

from django.conf import settings

import realtime_api

APP = Path(realtime_api.__file__).parent
PACKAGES = sorted(
    path.name
    for path in APP.iterdir()
    if (path / "__init__.py").is_file()
    and path.name not in {"migrations", "management"}
)


def test_each_package_says_what_it_does_and_imports():
    for name in PACKAGES:
        source = (APP / name / "__init__.py").read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(source)) or ""
        assert "Imports:" in docstring, f"realtime_api/{name}/__init__.py does not say"


def test_the_readme_map_lists_every_package():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The realtime app, package by package", 1)[1]
    section = section.split("\n### ", 1)[0]
    listed = {line.split("/", 1)[0] for line in section.splitlines() if "/ " in line}
    assert set(PACKAGES) <= listed, f"not in the README's map: {set(PACKAGES) - listed}"
