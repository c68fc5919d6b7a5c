"""A generated project takes a newer template with `cruft update`, keeping its own edits.

As the generated README says: the project was made with `cruft create`
(`.cruft.json` records the template and its commit); the team commits and
edits the sample app; the template moves one commit forward with a change to
realtime_api/; `cruft update` brings that change and leaves the team's edit.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATE_DIR, run

GIT_USER = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
TEAM_EDIT = "# The team's own line.\n"
TEMPLATE_FIX = "# The template's fix.\n"


def git(folder, *args):
    return run(["git", *args], cwd=folder, env={**os.environ, **GIT_USER})


def cruft(folder, *args):
    cruft_command = Path(sys.executable).with_name("cruft")
    return run([cruft_command, *args], cwd=folder, env={**os.environ, **GIT_USER})


def copy_template(target):
    """The template's files as git tracks them, in a repository of their own."""
    listed = (
        subprocess.run(["git", "ls-files", "-z"], cwd=TEMPLATE_DIR, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = TEMPLATE_DIR / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "--quiet")
    git(target, "add", "--all")
    git(target, "commit", "--quiet", "--message", "template A")


def test_cruft_update_brings_the_templates_fix_and_keeps_the_teams_edit(tmp_path):
    template = tmp_path / "template"
    copy_template(template)
    cruft(tmp_path, "create", str(template), "--no-input", "--output-dir", str(tmp_path / "out"))
    (project,) = (tmp_path / "out").iterdir()
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(template)

    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "generated")
    edited = project / "discussion" / "models.py"
    edited.write_text(edited.read_text() + TEAM_EDIT)
    git(project, "commit", "--quiet", "--all", "--message", "the team's edit")

    fixed = template / "{{cookiecutter.project_slug}}" / "realtime_api" / "conf.py"
    fixed.write_text(fixed.read_text() + TEMPLATE_FIX)
    git(template, "commit", "--quiet", "--all", "--message", "template B")

    cruft(project, "update", "--skip-apply-ask")
    assert (project / "realtime_api" / "conf.py").read_text().endswith(TEMPLATE_FIX)
    assert edited.read_text().endswith(TEAM_EDIT)
    assert not list(project.rglob("*.rej")), "cruft update left conflicts"
    assert json.loads((project / ".cruft.json").read_text())["commit"] != state["commit"]
