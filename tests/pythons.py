"""The Python interpreters that `make test` bakes the project with, and the Django each must get.

PYTHONS (an environment or make variable) lists them, by command or path,
separated by spaces. Without it, each python3.11 ... python3.14 is taken from
PATH, or else from pyenv's installs ($PYENV_ROOT/versions, ~/.pyenv by
default), whose shims on PATH run only the versions pyenv has selected.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

# The versions looked for; the generated pyproject.toml classifies those tested.
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13", "3.14")

VERSION_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


def django_line(python):
    """Return the Django release line pip resolves `Django>=5.2,<7` to on Python `python` ("3.X" or "3.X.Y")."""
    # Django 6 requires Python 3.12.
    return "5.2" if tuple(int(part) for part in python.split(".")[:2]) < (3, 12) else "6"


def python_version(command, environ):
    """Return the "3.X" version that command runs, or None if it does not run."""
    try:
        result = subprocess.run(
            [command, "-c", VERSION_PROBE], env=environ, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def natural_key(text):
    """Sort key that orders "3.12.10" after "3.12.9"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def candidates(version, environ):
    """Return the commands that may run Python `version`: python3.X on PATH, then pyenv's installs, newest first."""
    on_path = shutil.which(f"python{version}", path=environ.get("PATH", ""))
    root = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installs = sorted(root.glob(f"versions/{version}.*/bin/python{version}"), key=lambda path: natural_key(str(path)))
    return [*([on_path] if on_path else []), *(str(path) for path in reversed(installs))]


def find_pythons(environ=os.environ):
    """Return {"3.X": command} for each supported Python found.

    Raise ValueError naming a PYTHONS entry that does not run or is not a
    supported version: one asked for by name must not be skipped quietly.
    """
    listed = environ.get("PYTHONS", "").split()
    if listed:
        return listed_pythons(listed, environ)
    found = {}
    for version in SUPPORTED_PYTHONS:
        runs = [command for command in candidates(version, environ) if python_version(command, environ) == version]
        if runs:
            found[version] = runs[0]
    return found


def listed_pythons(commands, environ):
    """Return {"3.X": command} for the commands PYTHONS lists, the first of each version."""
    found = {}
    for command in commands:
        version = python_version(command, environ)
        if version is None:
            raise ValueError(f"PYTHONS: {command!r} does not run")
        if version not in SUPPORTED_PYTHONS:
            raise ValueError(f"PYTHONS: {command!r} is Python {version}, not one of {', '.join(SUPPORTED_PYTHONS)}")
        found.setdefault(version, command)
    return found
