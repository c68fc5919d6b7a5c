"""The generated project's lock (requirements.txt) satisfies pyproject.toml and is current.

The lock is compiled by `make lock` (uv pip compile, universal: one file for
Python 3.11 to 3.13+, Linux and macOS, with environment markers where the
versions differ, as Django does at 3.12). It holds third-party packages only,
so it is the same for every slug; the project installs on top of it with
`pip install --no-deps -e .`.
"""

import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import pytest
from conftest import answers
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")

# Where the lock must install: each supported Python on Linux and macOS.
ENVIRONMENTS = [
    {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": platform}
    for python in ("3.11", "3.12", "3.13")
    for platform in ("linux", "darwin")
]


def pins(lock_text, environment):
    """{package: version} the lock installs in one environment."""
    found = {}
    for line in lock_text.splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate(environment):
            name = canonicalize_name(name)
            assert name not in found, f"{name} pinned twice for {environment}"
            found[name] = version
    return found


def unmet_requirements(pyproject, lock_text):
    """Requirements of the project and its dev extra that the lock leaves out or pins outside the range."""
    project = pyproject["project"]
    requirements = [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["dev"]]
    problems = []
    for environment in ENVIRONMENTS:
        pinned = pins(lock_text, environment)
        where = f"Python {environment['python_version']} on {environment['sys_platform']}"
        for requirement in requirements:
            if requirement.marker and not requirement.marker.evaluate({**environment, "extra": "dev"}):
                continue
            version = pinned.get(canonicalize_name(requirement.name))
            if version is None:
                problems.append(f"{requirement} is not in the lock ({where})")
            elif not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement}: the lock pins {version} ({where})")
    return sorted(set(problems))


def read(project):
    with (project / "pyproject.toml").open("rb") as file:
        pyproject = tomllib.load(file)
    return pyproject, (project / LOCK).read_text(encoding="utf-8")


@pytest.mark.parametrize("overrides", [{}, {"include_sample_app": "n"}], ids=["defaults", "no-sample-app"])
def test_the_lock_satisfies_the_ranges(cookies, context, overrides):
    """Every dependency of the project and its dev extra is pinned inside its range, on every Python and OS."""
    project = cookies.bake(extra_context=answers(context, overrides)).project_path
    assert unmet_requirements(*read(project)) == []


def test_a_changed_range_without_a_new_lock_fails(cookies, context):
    """Raising a lower bound past the locked version is caught (so is a new dependency)."""
    project = cookies.bake(extra_context=context).project_path
    pyproject, lock = read(project)
    django = pins(lock, ENVIRONMENTS[0])["django"]
    deps = pyproject["project"]["dependencies"]
    deps[:] = [f"Django>{django},<7" if dep.startswith("Django") else dep for dep in deps]
    deps.append("a-package-nobody-locked>=1")
    assert unmet_requirements(pyproject, lock) == [
        "Django<7,>" + django + f": the lock pins {django} (Python 3.11 on darwin)",
        "Django<7,>" + django + f": the lock pins {django} (Python 3.11 on linux)",
        *sorted(
            f"a-package-nobody-locked>=1 is not in the lock (Python {python} on {platform})"
            for python in ("3.11", "3.12", "3.13")
            for platform in ("darwin", "linux")
        ),
    ]


def test_the_lock_is_current(cookies, context):
    """Recompiling with the command in the lock's header, keeping its pins, changes nothing.

    uv keeps every pin that the ranges still allow (it reads the existing
    output file as preferences), so this fails when pyproject.toml gained,
    lost or narrowed a dependency and `make lock` was not run; not when a
    package merely has a newer release. Needs the package index.
    """
    project = cookies.bake(extra_context=context).project_path
    before = (project / LOCK).read_text(encoding="utf-8")
    header = before.splitlines()[1].lstrip("# ").strip()
    assert header.startswith("uv pip compile pyproject.toml "), header
    uv = shutil.which("uv", path=str(sys.prefix) + "/bin") or shutil.which("uv")
    assert uv, "uv is in the template's test extra"
    command = [uv, *shlex.split(header)[1:], "--quiet"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    after = (project / LOCK).read_text(encoding="utf-8")
    assert after == before, f"{LOCK} is not current: run `make lock` and commit it"
