"""Drop the parts of the generated project that were not selected, and write its secret key.

Cookiecutter renders this file with Jinja and runs it inside the generated
project folder. The answers arrive percent-encoded (see pre_gen_project.py),
so the tests can import this file unrendered and call its helpers, which
take the project folder as an argument.
"""

import secrets
import shutil
from pathlib import Path
from urllib.parse import unquote

ANSWERS = {
    "open_source_license": "{{ cookiecutter.open_source_license | urlencode }}",
    "include_sample_app": "{{ cookiecutter.include_sample_app | urlencode }}",
    "use_github_actions": "{{ cookiecutter.use_github_actions | urlencode }}",
}

# What each unselected option takes away, relative to the project folder.
# The scale bench drives the sample's topics and comments; bench.sync_saves
# saves its topics.
SAMPLE_APP_PATHS = ("discussion", "tests/discussion", "bench/scale.py", "bench/sync_saves.py")
GITHUB_ACTIONS_PATHS = (".github",)
LICENSE_PATHS = ("LICENSE",)

SECRET_KEY_VARIABLE = "DJANGO_SECRET_KEY"
ENV_FILE = ".env"


def decode_answers(encoded):
    """Return the answers with Jinja's percent-encoding undone."""
    return {name: unquote(value) for name, value in encoded.items()}


def paths_to_remove(answers):
    """Return the project-relative paths that the answers leave out."""
    paths = []
    if answers["include_sample_app"] == "n":
        paths += SAMPLE_APP_PATHS
    if answers["use_github_actions"] == "n":
        paths += GITHUB_ACTIONS_PATHS
    if answers["open_source_license"] == "Not open source":
        paths += LICENSE_PATHS
    return paths


def remove_paths(project_dir, paths):
    """Delete each path (file or folder) under project_dir; a missing path is not an error."""
    for relative in paths:
        path = Path(project_dir) / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def generate_secret_key():
    """Return a fresh random secret key that needs no quoting in a .env file."""
    return secrets.token_urlsafe(50)


def gitignore_lists(gitignore_text, name):
    """Return True if a .gitignore text has a line that ignores the top-level file `name`."""
    patterns = {line.strip() for line in gitignore_text.splitlines()}
    return bool(patterns & {name, f"/{name}", f"{name}*", f"/{name}*"})


def ensure_ignored(project_dir, name):
    """Append `name` to the project's .gitignore unless a line already ignores it."""
    gitignore = Path(project_dir) / ".gitignore"
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if gitignore_lists(text, name):
        return
    if text and not text.endswith("\n"):
        text += "\n"
    gitignore.write_text(f"{text}# Local settings and secrets\n{name}\n", encoding="utf-8")


def write_secret_key(project_dir, secret_key):
    """Set the secret key in the project's .env (untracked), keeping any other lines there."""
    env_file = Path(project_dir) / ENV_FILE
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    lines = [line for line in lines if not line.startswith(f"{SECRET_KEY_VARIABLE}=")]
    if not lines:
        lines = ["# Local settings for this checkout. Git ignores this file: never commit it."]
    lines.append(f"{SECRET_KEY_VARIABLE}={secret_key}")
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)


def main():
    """Remove the unselected parts of the project in the current folder and give it a secret key."""
    project_dir = Path.cwd()
    remove_paths(project_dir, paths_to_remove(decode_answers(ANSWERS)))
    ensure_ignored(project_dir, ENV_FILE)
    write_secret_key(project_dir, generate_secret_key())


if __name__ == "__main__":
    main()
