"""Unit tests of the hooks' helpers, imported from the unrendered hook files."""

import importlib.util
import stat
import sys

import pytest
from conftest import TEMPLATE_DIR
from cookiecutter.environment import StrictEnvironment


def load_module(name, source=None):
    """Import hooks/<name>.py as a module, from its file or from rendered source text."""
    path = TEMPLATE_DIR / "hooks" / f"{name}.py"
    if source is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    module = type(sys)(name)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def render_hook(name, answers):
    """Render a hook file with Jinja the way cookiecutter does, for the given answers."""
    source = (TEMPLATE_DIR / "hooks" / f"{name}.py").read_text(encoding="utf-8")
    environment = StrictEnvironment(context={"cookiecutter": answers}, keep_trailing_newline=True)
    return environment.from_string(source).render(cookiecutter=answers)


pre_gen = load_module("pre_gen_project")
post_gen = load_module("post_gen_project")

VALID_ANSWERS = {
    "project_name": "My Realtime API",
    "project_slug": "my_realtime_api",
    "email": "you@example.com",
    "version": "0.1.0",
    "open_source_license": "MIT",
    "include_sample_app": "y",
    "use_github_actions": "y",
}


# --- rendering ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["pre_gen_project", "post_gen_project"])
def test_rendered_hook_receives_hostile_answers_intact(name):
    """Quotes, backslashes, newlines and non-ASCII in answers reach the rendered hook unchanged."""
    hostile = {
        **VALID_ANSWERS,
        "project_name": 'Joe\'s "API" \\ {{ x }} %41\nCafé',
        "email": "a\"b'c\\d@example.com",
        "open_source_license": "Not open source",
    }
    module = load_module(name, render_hook(name, hostile))
    decoded = module.decode_answers(module.ANSWERS)
    assert decoded == {key: hostile[key] for key in module.ANSWERS}


# --- pre_gen_project ---------------------------------------------------------


@pytest.mark.parametrize("slug", ["my_realtime_api", "api2", "api_v2_beta", "Shop", "a"])
def test_check_slug_accepts_identifiers(slug):
    """ASCII identifiers that clash with nothing are accepted."""
    assert pre_gen.check_slug(slug) is None


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("1abc", "not a valid Python identifier"),
        ("my-project", "not a valid Python identifier"),
        ("my project", "not a valid Python identifier"),
        ("", "not a valid Python identifier"),
        ("café", "not a valid Python identifier"),
        ("_private", "underscore"),
        ("api_", "underscore"),
        ("class", "keyword"),
        ("None", "keyword"),
        ("django", "clash"),
        ("Django", "clash"),
        ("rest_framework", "clash"),
        ("channels_redis", "clash"),
        ("djangorestframework", "clash"),
        ("config", "clash"),
        ("bench", "clash"),
        ("realtime_api", "clash"),
        ("discussion", "clash"),
        ("tests", "clash"),
        ("test", "clash"),
        ("json", "standard library"),
    ],
)
def test_check_slug_refuses(slug, reason):
    """A slug that is not an identifier, a keyword, or shadows a module is refused with the reason."""
    message = pre_gen.check_slug(slug)
    assert message is not None
    assert reason in message
    assert "project_slug" in message


@pytest.mark.parametrize("email", ["you@example.com", "first.last+tag@mail.example.co.uk", "a_b-c%d@x-y.io"])
def test_check_email_accepts(email):
    """Ordinary addresses are accepted."""
    assert pre_gen.check_email(email) is None


@pytest.mark.parametrize(
    "email",
    [
        "",
        "you",
        "you@",
        "@example.com",
        "you@example",
        "you@@example.com",
        "a b@example.com",
        'a"b@example.com',
        "you@-example.com",
        "you@example.com ",
        "you@example..com",
    ],
)
def test_check_email_refuses(email):
    """Addresses without a dotted domain, with spaces, quotes or a doubled @ are refused."""
    assert "email" in pre_gen.check_email(email)


@pytest.mark.parametrize(
    "version", ["0.1.0", "1", "2024.1", "1.0a1", "1.0.0rc2", "1.0.post1", "1.0.dev3", "1!2.0", "1.0+local.7"]
)
def test_check_version_accepts_pep440(version):
    """PEP 440 versions are accepted."""
    assert pre_gen.check_version(version) is None


@pytest.mark.parametrize("version", ["", "one", "1.0 ", " 1.0", "1.0-beta-x", "1..0", "latest", "1.0.0-SNAPSHOT+"])
def test_check_version_refuses(version):
    """Strings that are not PEP 440 versions are refused."""
    assert "PEP 440" in pre_gen.check_version(version)


@pytest.mark.parametrize("value", ["y", "n"])
def test_check_yes_no_accepts(value):
    """Exactly 'y' and 'n' are accepted."""
    assert pre_gen.check_yes_no("include_sample_app", value) is None


@pytest.mark.parametrize("value", ["yes", "no", "Y", "N", "true", "", "1"])
def test_check_yes_no_refuses(value):
    """Anything but 'y' or 'n' is refused, naming the option."""
    assert "include_sample_app must be 'y' or 'n'" in pre_gen.check_yes_no("include_sample_app", value)


def test_check_license():
    """Only the licenses the template ships are accepted."""
    assert all(pre_gen.check_license(name) is None for name in pre_gen.LICENSES)
    assert "open_source_license" in pre_gen.check_license("GPL-3.0")


def test_check_project_name():
    """A blank project name is refused."""
    assert pre_gen.check_project_name("Café Übersicht") is None
    assert "project_name" in pre_gen.check_project_name("  ")


def test_validate_collects_every_error():
    """validate() reports all bad answers at once, not just the first."""
    assert pre_gen.validate(VALID_ANSWERS) == []
    answers = {**VALID_ANSWERS, "project_slug": "1abc", "email": "nope", "use_github_actions": "yes"}
    errors = pre_gen.validate(answers)
    assert len(errors) == 3
    assert [error.split()[0] for error in errors] == ["project_slug", "email", "use_github_actions"]


def test_main_exits_non_zero_with_message(monkeypatch, capsys):
    """main() prints each problem on stderr and exits 1."""
    encoded = {**VALID_ANSWERS, "version": "one%20point%20oh"}
    monkeypatch.setattr(pre_gen, "ANSWERS", encoded)
    with pytest.raises(SystemExit) as exit_info:
        pre_gen.main()
    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err
    assert "version 'one point oh' is not a PEP 440 version" in stderr
    assert "Nothing was generated" in stderr


def test_main_is_quiet_for_valid_answers(monkeypatch, capsys):
    """main() returns without output when every answer is valid."""
    monkeypatch.setattr(pre_gen, "ANSWERS", VALID_ANSWERS)
    pre_gen.main()
    assert capsys.readouterr() == ("", "")


# --- post_gen_project --------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"include_sample_app": "n"}, ["discussion", "tests/discussion", "bench/scale.py", "bench/sync_saves.py"]),
        ({"use_github_actions": "n"}, [".github"]),
        ({"open_source_license": "Apache-2.0"}, []),
        ({"open_source_license": "Not open source"}, ["LICENSE"]),
        (
            {"include_sample_app": "n", "use_github_actions": "n", "open_source_license": "Not open source"},
            ["discussion", "tests/discussion", "bench/scale.py", "bench/sync_saves.py", ".github", "LICENSE"],
        ),
    ],
)
def test_paths_to_remove(overrides, expected):
    """Each unselected option maps to the paths it takes away."""
    assert post_gen.paths_to_remove({**VALID_ANSWERS, **overrides}) == expected


def test_remove_paths(tmp_path):
    """Files and folders are removed, missing paths are ignored, the rest is kept."""
    (tmp_path / "discussion" / "migrations").mkdir(parents=True)
    (tmp_path / "discussion" / "models.py").write_text("")
    (tmp_path / "tests" / "discussion").mkdir(parents=True)
    (tmp_path / "tests" / "test_kept.py").write_text("")
    (tmp_path / "LICENSE").write_text("MIT")
    post_gen.remove_paths(tmp_path, ["discussion", "tests/discussion", "LICENSE", ".github"])
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == ["tests", "tests/test_kept.py"]


def test_generate_secret_key_is_random_and_env_safe():
    """Secret keys are long, differ each time and need no quoting in a .env file."""
    keys = {post_gen.generate_secret_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) >= 50
        assert all(char.isalnum() or char in "-_" for char in key)


@pytest.mark.parametrize(
    ("gitignore", "listed"),
    [
        ("", False),
        (".env.example\n", False),
        ("# .env\n", False),
        (".env\n", True),
        ("*.pyc\n/.env\n", True),
        ("  .env  \n", True),
        (".env*\n", True),
    ],
)
def test_gitignore_lists(gitignore, listed):
    """A .gitignore line ignoring the top-level .env is recognised; comments and look-alikes are not."""
    assert post_gen.gitignore_lists(gitignore, ".env") is listed


def test_ensure_ignored_appends_only_when_missing(tmp_path):
    """ensure_ignored() adds .env to .gitignore once, keeping what was there."""
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text("*.pyc")
    post_gen.ensure_ignored(tmp_path, ".env")
    post_gen.ensure_ignored(tmp_path, ".env")
    lines = gitignore.read_text().splitlines()
    assert lines[0] == "*.pyc"
    assert lines.count(".env") == 1


def test_ensure_ignored_creates_gitignore(tmp_path):
    """Without a .gitignore, ensure_ignored() creates one."""
    post_gen.ensure_ignored(tmp_path, ".env")
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()


def test_write_secret_key_replaces_old_key_and_keeps_other_lines(tmp_path):
    """write_secret_key() sets the key in .env, replacing an old key, keeping other settings, owner-only."""
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nDJANGO_SECRET_KEY=old\n")
    post_gen.write_secret_key(tmp_path, "new-key")
    assert env_file.read_text() == "DEBUG=1\nDJANGO_SECRET_KEY=new-key\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_write_secret_key_creates_env(tmp_path):
    """Without a .env, write_secret_key() creates one with a comment and the key."""
    post_gen.write_secret_key(tmp_path, "abc")
    lines = (tmp_path / ".env").read_text().splitlines()
    assert lines[0].startswith("#")
    assert lines[-1] == "DJANGO_SECRET_KEY=abc"


def test_post_gen_main(tmp_path, monkeypatch):
    """main() trims the project in the current folder and gives it a secret key in an ignored .env."""
    (tmp_path / "discussion").mkdir()
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "LICENSE").write_text("MIT")
    (tmp_path / ".gitignore").write_text(".env\n")
    answers = {"open_source_license": "MIT", "include_sample_app": "n", "use_github_actions": "y"}
    monkeypatch.setattr(post_gen, "ANSWERS", answers)
    monkeypatch.chdir(tmp_path)
    post_gen.main()
    assert sorted(path.name for path in tmp_path.iterdir()) == [".env", ".github", ".gitignore", "LICENSE"]
    assert (tmp_path / ".gitignore").read_text() == ".env\n"
    assert (tmp_path / ".env").read_text().count("DJANGO_SECRET_KEY=") == 1
