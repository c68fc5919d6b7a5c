"""The generated workflow can run the generated suite on GitHub's own runner.

Checked on paper (nothing here runs GitHub's runner): every program the
project's code runs is installed by a workflow step or is on the runner image
(tests/data/ubuntu-24.04-runner-programs.txt, a dated copy of GitHub's list);
the workflow and dependabot.yml match their published JSON Schemas
(check-jsonschema's vendored copies) and pyproject.toml passes
validate-pyproject. See ci_programs.py for what counts as running a program.
"""

import subprocess
import sys
import textwrap
import tomllib

import pytest
import yaml
from ci_programs import missing_programs, required_programs, runner_programs, workflow_programs
from conftest import SUPPORTED_COMBINATIONS, answers
from validate_pyproject import api as validate_pyproject
from validate_pyproject.error_reporting import ValidationError

WORKFLOW = ".github/workflows/ci.yml"


@pytest.mark.parametrize("overrides", [{}, {"include_sample_app": "n"}], ids=["defaults", "no-sample-app"])
def test_every_program_the_suite_runs_is_on_the_runner_or_installed(cookies, context, overrides):
    """redis-server, nginx, Chromium, node...: each on ubuntu-latest, or installed by a step."""
    project = cookies.bake(extra_context=answers(context, overrides)).project_path
    assert required_programs(project), "found no program at all: the reader is broken"
    missing = missing_programs(project, project / WORKFLOW)
    assert not missing, (
        "The generated suite runs programs that GitHub's ubuntu-latest runner lacks and no step of "
        f"{WORKFLOW} installs (add an apt step, or list them if the image gained them): " + "; ".join(missing)
    )


def test_a_new_program_fails_until_the_workflow_installs_it(cookies, context):
    """A test that starts needing redis-sentinel fails the check; an apt step fixes it."""
    project = cookies.bake(extra_context=context).project_path
    assert missing_programs(project, project / WORKFLOW) == []
    (project / "tests" / "test_sentinel.py").write_text(
        textwrap.dedent(
            """
            from tests.conftest import require_program


            def test_failover():
                require_program("redis-sentinel", "to fail over")
            """
        ),
        encoding="utf-8",
    )
    assert missing_programs(project, project / WORKFLOW) == ["redis-sentinel (tests/test_sentinel.py)"]

    workflow = yaml.safe_load((project / WORKFLOW).read_text(encoding="utf-8"))
    workflow["jobs"]["test"]["steps"].insert(
        2, {"name": "Sentinel", "run": "sudo apt-get install -y -qq redis-sentinel"}
    )
    (project / WORKFLOW).write_text(yaml.safe_dump(workflow), encoding="utf-8")
    assert missing_programs(project, project / WORKFLOW) == []


def test_the_reader_finds_each_way_a_program_is_run(tmp_path):
    """require_program, which() (alone, over a literal tuple, or-ed), and literal commands."""
    (tmp_path / "sample.py").write_text(
        textwrap.dedent(
            """
            import asyncio, shutil, subprocess, sys

            def f():
                require_program("alpha", "why")
                shutil.which("beta")
                [shutil.which(name) for name in ("gamma", "gamma-browser")]
                shutil.which("delta") or shutil.which("delta2")
                subprocess.run(["epsilon", "--version"])
                command = ["zeta", "-x"]
                subprocess.Popen(command)
                asyncio.create_subprocess_exec("eta")
                subprocess.run([sys.executable, "-V"])  # Python itself: not a program to install
                subprocess.run(["/usr/sbin/theta"])  # a path: not looked up on PATH
            """
        ),
        encoding="utf-8",
    )
    assert set(required_programs(tmp_path)) == {
        ("alpha",),
        ("beta",),
        ("gamma", "gamma-browser"),
        ("delta", "delta2"),
        ("epsilon",),
        ("zeta",),
        ("eta",),
    }


def test_workflow_steps_and_the_runner_list_are_read(tmp_path):
    """apt installs (package -> programs), setup actions, and the vendored list's first words."""
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        yaml.safe_dump(
            {
                "jobs": {
                    "test": {
                        "steps": [
                            {"uses": "actions/setup-node@v4"},
                            {"name": "apt", "run": "sudo apt-get install -y -qq redis-tools nginx && echo done"},
                        ]
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    assert set(workflow_programs(workflow)) == {"node", "npm", "npx", "redis-cli", "redis-benchmark", "nginx"}
    on_runner = runner_programs()
    assert {"nginx", "node", "npm", "openssl", "chromium", "google-chrome"} <= on_runner
    assert not {"redis-server", "redis-cli", "redis-sentinel"} & on_runner


def check_jsonschema(schema, *files):
    """Validate files against one of check-jsonschema's vendored schemas; return (exit code, output)."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_workflow_and_dependabot_match_their_published_schemas(cookies, context):
    """check-jsonschema's vendored GitHub workflow and Dependabot schemas accept the generated files."""
    project = cookies.bake(extra_context=context).project_path
    code, output = check_jsonschema("vendor.github-workflows", project / WORKFLOW)
    assert code == 0, output
    code, output = check_jsonschema("vendor.dependabot", project / ".github" / "dependabot.yml")
    assert code == 0, output


def test_the_schema_check_can_fail(tmp_path):
    """A misspelt key fails the workflow schema (the check is not vacuous)."""
    broken = tmp_path / "ci.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    stepz: []\n", encoding="utf-8")
    code, output = check_jsonschema("vendor.github-workflows", broken)
    assert code == 1, output


@pytest.mark.parametrize("overrides", SUPPORTED_COMBINATIONS)
def test_pyproject_passes_validate_pyproject(cookies, context, overrides):
    """Each combination's pyproject.toml is valid (PEP 621 metadata, setuptools' table, classifiers)."""
    project = cookies.bake(extra_context=answers(context, overrides)).project_path
    with (project / "pyproject.toml").open("rb") as file:
        validate_pyproject.Validator()(tomllib.load(file))


def test_validate_pyproject_can_fail():
    """An unknown classifier is refused."""
    data = {"project": {"name": "x", "version": "0", "classifiers": ["Framework :: Djangoo"]}}
    with pytest.raises(ValidationError, match="classifiers"):
        validate_pyproject.Validator()(data)
