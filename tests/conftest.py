"""Fixtures and helpers shared by the template's tests."""

import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"

# Lines of a failed command's output shown in the assertion message.
OUTPUT_TAIL_LINES = 200


def pytest_configure(config):
    """Bake this repository's template, wherever pytest is started from."""
    config.option.template = str(TEMPLATE_DIR)


@pytest.fixture
def context():
    """Return a full set of valid answers, as a user would give them."""
    return {
        "project_name": "Realtime Test Project",
        "project_slug": "realtime_test_project",
        "description": "A project baked by the template's tests.",
        "author_name": "Test Author",
        "email": "test@example.com",
        "version": "0.1.0",
        "open_source_license": "MIT",
        "include_sample_app": "y",
        "use_github_actions": "y",
    }


def run(command, cwd, env=None, timeout=600):
    """Run a command and return its output; on failure, fail the test showing the output's tail."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-OUTPUT_TAIL_LINES:])
        pytest.fail(
            f"`{' '.join(str(part) for part in command)}` exited {result.returncode} in {cwd}:\n{tail}",
            pytrace=False,
        )
    return result.stdout


def ruff(*args):
    """Return the command that runs the ruff installed next to this Python."""
    return [sys.executable, "-m", "ruff", *args]
