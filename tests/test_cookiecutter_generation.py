"""Bake the template with valid and invalid answers and inspect what comes out."""

import ast
import datetime
import re
import subprocess
import tomllib

import pytest
import yaml
from conftest import PROJECT_TEMPLATE, SUPPORTED_COMBINATIONS, answers, ruff, run
from cookiecutter.exceptions import FailedHookException

# Template syntax that must never survive rendering.
LEFTOVER = re.compile(rb"\{\{-?\s*cookiecutter\.|\{%-?\s*(?:if|elif|for|raw|endraw)\b[^%]*cookiecutter")


@pytest.fixture(params=SUPPORTED_COMBINATIONS)
def baked(request, cookies, context):
    """Bake one supported combination and return the cookiecutter result."""
    return cookies.bake(extra_context=answers(context, request.param))


@pytest.mark.parametrize(
    ("project_name", "slug"),
    [
        ('Joe\'s "Quoted" API', "joe_s_quoted_api"),
        ("Café Übersicht", "cafe_ubersicht"),
        ("My-Dashed  Name", "my_dashed_name"),
    ],
)
def test_slug_is_derived_from_name(cookies, context, project_name, slug):
    """Without a project_slug answer, the slug is the project name slugified with underscores."""
    result = cookies.bake(extra_context=answers(context, {"project_name": project_name}))
    assert result.exit_code == 0
    assert result.project_path.name == slug


# Folders that are not part of the template: a venv or git repository made in
# a bake later, and tool caches that a checkout of the template may hold.
NOT_GENERATED = {".venv", ".git", "__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"}


def generated_files(project_path):
    """Yield every file that the template generated in a baked project."""
    for path in sorted(project_path.rglob("*")):
        if NOT_GENERATED.intersection(path.relative_to(project_path).parts):
            continue
        if path.is_file():
            yield path


def test_bake_succeeds(baked):
    """Each supported combination bakes without error into a folder named after the slug."""
    assert baked.exit_code == 0
    assert baked.exception is None
    assert baked.project_path.name == baked.context["project_slug"]
    assert baked.project_path.is_dir()


def test_no_template_syntax_left(baked):
    """No `{{ cookiecutter.` or `{% if cookiecutter` is left in any file name or content."""
    leftovers = [
        str(path.relative_to(baked.project_path))
        for path in generated_files(baked.project_path)
        if LEFTOVER.search(str(path).encode()) or LEFTOVER.search(path.read_bytes())
    ]
    assert not leftovers, f"template syntax left in: {leftovers}"


def test_files_parse(baked):
    """Every Python, TOML and YAML file of the bake parses (answers are escaped where rendered)."""
    for path in generated_files(baked.project_path):
        text = path.read_text(encoding="utf-8") if path.suffix in {".py", ".toml", ".yml", ".yaml"} else None
        if path.suffix == ".py":
            ast.parse(text, filename=str(path))
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)


def test_pyproject_carries_answers(baked):
    """The baked pyproject.toml holds the answers verbatim, however hostile they are."""
    pyproject = tomllib.loads((baked.project_path / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["version"] == baked.context["version"]
    assert project["description"] == baked.context["description"]
    assert project["authors"] == [{"name": baked.context["author_name"], "email": baked.context["email"]}]


def test_ruff_check_passes(baked):
    """`ruff check` passes inside the bake, with the project's own configuration."""
    run(ruff("check", "--no-cache", "."), cwd=baked.project_path)


def test_ruff_format_check_passes(baked):
    """`ruff format --check` passes inside the bake: rendering leaves the code formatted."""
    run(ruff("format", "--check", "--no-cache", "."), cwd=baked.project_path)


def test_imports_go_through_the_front_door(cookies, context):
    """ruff refuses an import of realtime_api's packages from config/ or an app (TID251); realtime_api.api passes."""
    project = cookies.bake(extra_context=context).project_path
    probe = project / "config" / "front_door_probe.py"
    probe.write_text('from realtime_api.streams.endpoints import Endpoint\n\n__all__ = ["Endpoint"]\n')
    refused = subprocess.run(
        ruff("check", "--no-cache", str(probe)), cwd=project, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "TID251" in refused.stdout
    assert "realtime_api.api" in refused.stdout
    probe.write_text('from realtime_api.api import Endpoint\n\n__all__ = ["Endpoint"]\n')
    run(ruff("check", "--no-cache", str(probe)), cwd=project)


def test_sample_app_can_be_left_out(cookies, context):
    """include_sample_app=n removes the sample app, its tests and every reference to it."""
    result = cookies.bake(extra_context={**context, "include_sample_app": "n"})
    project = result.project_path
    assert not (project / "discussion").exists()
    assert not (project / "tests" / "discussion").exists()
    mentions = [
        str(path.relative_to(project))
        for path in generated_files(project)
        if path.suffix in {".py", ".toml", ".cfg", ".ini"} and "discussion" in path.read_text(encoding="utf-8")
    ]
    assert not mentions, f"'discussion' still mentioned in: {mentions}"


# The framework's own tests (tests/realtime/, on their test-only app) number
# about 130 functions; far fewer in a bake without the sample app means they
# went with it again.
FRAMEWORK_TESTS_AT_LEAST = 100
TEST_FUNCTION = re.compile(r"^(?:async )?def test_", re.MULTILINE)


def test_framework_tests_stay_without_the_sample_app(cookies, context):
    """include_sample_app=n keeps tests/realtime: the framework's coverage does not depend on the sample."""
    project = cookies.bake(extra_context={**context, "include_sample_app": "n"}).project_path
    tests = project / "tests" / "realtime"
    assert (tests / "testapp" / "migrations" / "0001_initial.py").is_file()
    count = sum(len(TEST_FUNCTION.findall(path.read_text(encoding="utf-8"))) for path in tests.glob("test_*.py"))
    assert count >= FRAMEWORK_TESTS_AT_LEAST, f"only {count} test functions left in tests/realtime"


def test_sample_app_is_included_by_default(cookies, context):
    """include_sample_app=y keeps the sample app and its tests."""
    project = cookies.bake(extra_context=context).project_path
    assert (project / "discussion").is_dir()
    assert (project / "tests" / "discussion").is_dir()


def test_github_actions_can_be_left_out(cookies, context):
    """use_github_actions=n generates no .github folder: neither the workflow nor dependabot.yml."""
    result = cookies.bake(extra_context={**context, "use_github_actions": "n"})
    assert result.exit_code == 0
    assert not (result.project_path / ".github").exists()


def test_github_actions_workflow(cookies, context):
    """The CI workflow keeps GitHub's own expressions and runs lint, checks and tests on real servers."""
    project = cookies.bake(extra_context=context).project_path
    text = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "${{ matrix.python-version }}" in text
    workflow = yaml.safe_load(text)
    job = workflow["jobs"]["test"]
    assert set(job["services"]) == {"postgres", "redis"}
    assert {"CI", "DATABASE_URL", "REDIS_URL"} <= set(job["env"])
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    for command in (
        "pip install -r requirements.txt",
        "pip install --no-deps -e .",
        "pip check",
        "ruff check",
        "ruff format --check",
        "python manage.py check --fail-level WARNING",
        "python manage.py makemigrations --check --dry-run",
        "pytest",
    ):
        assert command in commands


def test_github_actions_matrix_tests_the_supported_pairs(cookies, context):
    """The workflow tests the oldest and the newest supported Python, each with the Django its lock pins.

    The pairs that `make test` runs (see pythons.py): the lock gives Django 5.2
    LTS on Python 3.11 and the newest 6.x allowed from 3.12; a scheduled run
    installs the newest releases inside the ranges instead (the canary).
    """
    project = cookies.bake(extra_context=context).project_path
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    assert workflow["jobs"]["test"]["strategy"]["matrix"] == {"python-version": ["3.11", "3.13"]}
    assert workflow[True]["schedule"], "no weekly canary run"  # PyYAML reads the `on:` key as True
    assert "newest" in workflow["jobs"]["test"]["env"]["INSTALL"]


def test_dependabot_proposes_new_releases(cookies, context):
    """dependabot.yml watches the project's Python packages and the workflow's actions."""
    project = cookies.bake(extra_context=context).project_path
    config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"pip", "github-actions"}
    for update in updates.values():
        assert update["directory"] == "/"
        assert update["schedule"]["interval"] in {"daily", "weekly", "monthly"}


@pytest.mark.parametrize(
    ("license_name", "first_line"),
    [
        ("MIT", "MIT License"),
        ("BSD-3-Clause", "BSD 3-Clause License"),
        ("Apache-2.0", "Apache License"),
    ],
)
def test_license_text(cookies, context, license_name, first_line):
    """The LICENSE is the chosen license's full text, with this year and the author's name."""
    context = {**context, "open_source_license": license_name, "author_name": "Seán O'Brien"}
    text = (cookies.bake(extra_context=context).project_path / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith(first_line)
    year = str(datetime.datetime.now(datetime.UTC).year)
    assert re.search(rf"Copyright (\(c\) )?{year},? Seán O'Brien\n", text)
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    if license_name == "Apache-2.0":
        assert "END OF TERMS AND CONDITIONS" in text
        assert "[yyyy]" not in text


def test_not_open_source_has_no_license(cookies, context):
    """'Not open source' generates no LICENSE file."""
    result = cookies.bake(extra_context={**context, "open_source_license": "Not open source"})
    assert result.exit_code == 0
    assert not (result.project_path / "LICENSE").exists()


def read_secret_key(project):
    """Return the DJANGO_SECRET_KEY value the post-generation hook wrote into .env."""
    for line in (project / ".env").read_text(encoding="utf-8").splitlines():
        if line.startswith("DJANGO_SECRET_KEY="):
            return line.partition("=")[2]
    raise AssertionError(".env has no DJANGO_SECRET_KEY line")


def test_secret_key_is_fresh_and_untracked(cookies, context):
    """Each bake gets its own secret key, written only to files that git ignores."""
    projects = [cookies.bake(extra_context=context).project_path for _ in range(2)]
    keys = [read_secret_key(project) for project in projects]
    assert keys[0] != keys[1]
    for project, key in zip(projects, keys, strict=True):
        assert len(key) >= 50
        subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
        subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=project, check=True)
        run(["git", "add", "--all"], cwd=project)
        tracked = run(["git", "ls-files", "-z"], cwd=project).split("\0")
        leaking = [name for name in tracked if name and key.encode() in (project / name).read_bytes()]
        assert not leaking, f"the secret key is in tracked files: {leaking}"


def test_html_js_ts_json_and_png_are_copied_verbatim(cookies, context):
    """Every .html, .js, .ts, .json and .png file of the template comes out byte for byte, braces included."""
    project = cookies.bake(extra_context=context).project_path
    patterns = ("*.html", "*.js", "*.ts", "*.json", "*.png")
    sources = sorted(path for pattern in patterns for path in PROJECT_TEMPLATE.rglob(pattern))
    assert any(path.suffix == ".json" for path in sources), "the vendored AsyncAPI schema is missing"
    assert any(path.suffix == ".png" for path in sources), "bench/figures (BENCHMARKS.md's plots) is missing"
    assert sources, "include_sample_app=y should ship the sample app's live demo page (.html) and client (.js)"
    for source in sources:
        baked_copy = project / source.relative_to(PROJECT_TEMPLATE)
        assert baked_copy.read_bytes() == source.read_bytes(), f"{baked_copy} differs from its template"


def assert_refused(result, capfd, tmp_path, option):
    """The pre-generation hook refused the answers, named the option on stderr and left nothing behind."""
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    stderr = capfd.readouterr().err
    assert option in stderr, stderr
    assert "Nothing was generated" in stderr
    # The `cookies` fixture bakes into tmp_path/cookies/bake00: it must stay empty.
    assert [path.name for path in (tmp_path / "cookies").rglob("*")] == ["bake00"]


@pytest.mark.parametrize(
    "slug",
    [
        "1abc",
        "my-project",
        "my project",
        "café",
        "class",
        "import",
        "django",
        "channels",
        "config",
        "bench",
        "realtime_api",
        "tests",
        "test",
    ],
)
def test_invalid_slug_is_refused(cookies, context, capfd, tmp_path, slug):
    """A slug that is not an ASCII identifier, is a keyword or clashes with a used module generates nothing."""
    result = cookies.bake(extra_context={**context, "project_slug": slug})
    assert_refused(result, capfd, tmp_path, "project_slug")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("email", "not-an-email"),
        ("email", 'quote"@example.com'),
        ("email", "two@@example.com"),
        ("email", "nobody@localhost"),
        ("version", "one point oh"),
        ("version", "1.0 "),
        ("include_sample_app", "yes"),
        ("use_github_actions", "Y"),
        ("project_name", "   "),
    ],
)
def test_invalid_answer_is_refused(cookies, context, capfd, tmp_path, option, value):
    """A bad email, a non-PEP 440 version, a y/n option that is not y/n or an empty name generates nothing."""
    result = cookies.bake(extra_context={**context, option: value})
    assert_refused(result, capfd, tmp_path, option)
