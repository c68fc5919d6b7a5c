"""Each REALTIME_API_* default is written once, in realtime_api/defaults.py.

The settings read the environment with it, the app reads the settings with
it, and what .env.example and the README's limits table say agrees with it.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from realtime_api.defaults import DEFAULTS

ROOT = Path(settings.BASE_DIR)
# The settings derive it from the project's name: one prefix per project.
DERIVED = {"REALTIME_API_REDIS_PREFIX"}


def shown(value):
    """A default as .env.example writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None or value == ():
        return ""
    return str(value)


def test_the_app_reads_no_default_of_its_own():
    literal = []
    for path in (ROOT / "realtime_api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "getattr"
                and len(node.args) == 3
                and isinstance(node.args[1], ast.Constant)
                and str(node.args[1].value).startswith("REALTIME_API_")
            ):
                literal.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not literal, f"defaults written outside defaults.py: {literal}"


@pytest.mark.live
def test_the_settings_default_to_the_apps_defaults():
    """config/settings/base.py with an empty environment holds DEFAULTS."""
    probe = (
        "import json, config.settings.base as base\n"
        "from realtime_api.defaults import DEFAULTS\n"
        "print(json.dumps({n: getattr(base, n) for n in DEFAULTS if hasattr(base, n)}))"
    )
    env = {"PATH": os.environ["PATH"], "DJANGO_ENV_FILE": ""}
    output = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    read = json.loads(output)
    assert len(read) > 30
    expected = json.loads(json.dumps(DEFAULTS))  # as JSON: tuples are lists
    differ = {
        name: (value, expected[name])
        for name, value in read.items()
        if name not in DERIVED and value != expected[name]
    }
    assert not differ


def test_env_example_shows_the_defaults():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    lines = re.findall(r"^# (REALTIME_API_\w+)=(.*)$", text, re.MULTILINE)
    assert len(lines) > 25
    differ = {
        name: (value, shown(DEFAULTS[name]))
        for name, value in lines
        if value != shown(DEFAULTS[name])
    }
    assert not differ


def test_the_readme_limits_table_states_the_defaults():
    """Rows naming one setting start with its default (KiB and MiB read as bytes)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*\| `(REALTIME_API_\w+)` \| ([^|]+)\|", readme, re.MULTILINE)
    assert len(rows) > 10
    differ = {}
    for name, said in rows:
        default = DEFAULTS[name]
        number = re.match(r"([\d,.]+)( MiB| KiB)?", said.strip())
        if number is None:
            stated = () if said.strip().startswith("none") else said.strip()
        else:
            scale = {" MiB": 1024 * 1024, " KiB": 1024}.get(number.group(2), 1)
            stated = float(number.group(1).replace(",", "")) * scale
        if stated != default:
            differ[name] = (said.strip(), default)
    assert not differ
