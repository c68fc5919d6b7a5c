"""Fixtures and helpers shared by the template's tests."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"

# Lines of a failed command's output shown in the assertion message: its
# end, and the start of pytest's first ERRORS or FAILURES section.
OUTPUT_TAIL_LINES = 200
FIRST_PROBLEM_LINES = 80
FIRST_PROBLEM = re.compile(r"=+ (ERRORS|FAILURES) =+$")


# What the baked projects' test suites passed on, for the closing summary:
# each such test records it as its "tested" property, which reaches this
# process from pytest-xdist's workers too.
TESTED = []
# How long a baked project's own pytest took (its "timing" property).
TIMINGS = []


def pytest_configure(config):
    """Bake this repository's template, wherever pytest is started from."""
    config.option.template = str(TEMPLATE_DIR)


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        TESTED.extend(value for name, value in report.user_properties if name == "tested")
        TIMINGS.extend(value for name, value in report.user_properties if name == "timing")


def pytest_terminal_summary(terminalreporter):
    """List the Python and Django pairs that the baked projects' test suites passed on."""
    if TESTED:
        terminalreporter.section("Python and Django versions tested")
        for line in sorted(TESTED):
            terminalreporter.line(line)
    if TIMINGS:
        terminalreporter.section("A baked project's pytest, timed")
        for line in TIMINGS:
            terminalreporter.line(line)


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


# Option overrides of the valid `context`; only options that interact are paired.
SUPPORTED_COMBINATIONS = [
    pytest.param({}, id="defaults"),
    pytest.param({"include_sample_app": "n"}, id="no-sample-app"),
    pytest.param({"use_github_actions": "n"}, id="no-github-actions"),
    pytest.param({"open_source_license": "MIT"}, id="MIT"),
    pytest.param({"open_source_license": "BSD-3-Clause"}, id="BSD-3-Clause"),
    pytest.param({"open_source_license": "Apache-2.0"}, id="Apache-2.0"),
    pytest.param({"open_source_license": "Not open source"}, id="not-open-source"),
    pytest.param(
        {"include_sample_app": "n", "use_github_actions": "n", "open_source_license": "Not open source"},
        id="minimal",
    ),
    # Hostile but valid answers. With a project_name and no project_slug, the
    # slug is left for cookiecutter to derive, as it is for a user.
    pytest.param({"project_name": 'Joe\'s "Quoted" API'}, id="quotes"),
    pytest.param({"project_name": "Café Übersicht"}, id="non-ascii"),
    pytest.param(
        {"project_name": "my-very-long-dashed-project-name-for-a-realtime-rest-api-with-many-words"},
        id="long-dashed",
    ),
    pytest.param(
        {
            "project_name": "L'Équipe d'Été",
            "author_name": 'Seán O\'Brien \\ "Ó Briain"',
            "description": 'It\'s a "realtime" API: {braces}, \\backslashes\\ and ünïcode.',
        },
        id="apostrophes-backslashes",
    ),
]


def answers(context, overrides):
    """Return the context with the overrides applied; a new project_name alone also gets a derived slug."""
    combined = {**context, **overrides}
    if "project_name" in overrides and "project_slug" not in overrides:
        del combined["project_slug"]
    return combined


def run(command, cwd, env=None, timeout=840):
    """Run a command and return its output; on failure or timeout, fail the test showing the output's tail.

    The default timeout stays under pytest-timeout's 900 s, so that a hung
    command still shows what it printed.
    """
    shown = " ".join(str(part) for part in command)
    try:
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
    except subprocess.TimeoutExpired as expired:
        output = expired.output or b""
        output = output.decode(errors="replace") if isinstance(output, bytes) else output
        pytest.fail(f"`{shown}` timed out after {timeout} s in {cwd}:\n{tail(output)}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"`{shown}` exited {result.returncode} in {cwd}:\n{tail(result.stdout)}", pytrace=False)
    return result.stdout


def tail(output):
    """Return the end of a command's output, after the start of pytest's first ERRORS or FAILURES section.

    With hundreds of failures the end holds only the summary; the first
    traceback usually says what went wrong.
    """
    lines = output.splitlines()
    if len(lines) <= OUTPUT_TAIL_LINES:
        return output
    shown = lines[-OUTPUT_TAIL_LINES:]
    first = next((i for i, line in enumerate(lines) if FIRST_PROBLEM.match(line)), None)
    if first is not None and first < len(lines) - OUTPUT_TAIL_LINES:
        shown = [*lines[first : first + FIRST_PROBLEM_LINES], "[...]", *shown]
    return "\n".join(shown)


def ruff(*args):
    """Return the command that runs the ruff installed next to this Python."""
    return [sys.executable, "-m", "ruff", *args]
