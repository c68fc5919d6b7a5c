"""Which Python interpreters `make test` bakes with, and which Django each must get."""

import pytest
from pythons import SUPPORTED_PYTHONS, django_line, find_pythons


def fake_python(path, version, exit_code=0):
    """Write an executable at path that answers the version probe like Python `version` (or fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\nexit {exit_code}\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def environ(tmp_path):
    """Return an environment with an empty PATH folder and an empty pyenv root."""
    (tmp_path / "bin").mkdir()
    return {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv")}


def test_pythons_lists_the_interpreters(tmp_path, environ):
    """PYTHONS names the interpreters, by path or command; each is keyed by the version it reports."""
    first = fake_python(tmp_path / "a" / "python", "3.12")
    fake_python(tmp_path / "bin" / "python3.13", "3.13")
    environ["PYTHONS"] = f"{first}  python3.13"
    assert find_pythons(environ) == {"3.12": first, "3.13": "python3.13"}


def test_pythons_keeps_the_first_of_a_version(tmp_path, environ):
    """Two PYTHONS entries of one version: the first one is used."""
    first = fake_python(tmp_path / "a" / "python", "3.12")
    second = fake_python(tmp_path / "b" / "python", "3.12")
    environ["PYTHONS"] = f"{first} {second}"
    assert find_pythons(environ) == {"3.12": first}


def test_pythons_refuses_an_interpreter_that_does_not_run(tmp_path, environ):
    """A PYTHONS entry that is missing or fails is an error that names it, not a silent skip."""
    broken = fake_python(tmp_path / "a" / "python", "3.12", exit_code=127)
    for entry in (broken, "no-such-python"):
        environ["PYTHONS"] = entry
        with pytest.raises(ValueError, match=f"PYTHONS: '{entry}' does not run"):
            find_pythons(environ)


def test_pythons_refuses_an_unsupported_version(tmp_path, environ):
    """A PYTHONS entry of a Python the project does not support is an error that says which are."""
    environ["PYTHONS"] = fake_python(tmp_path / "a" / "python", "3.10")
    with pytest.raises(ValueError, match=r"is Python 3\.10, not one of 3\.11, 3\.12, 3\.13, 3\.14"):
        find_pythons(environ)


def test_default_finds_supported_pythons_on_path(tmp_path, environ):
    """Without PYTHONS, each python3.X on PATH that runs and reports 3.X is found."""
    found_311 = fake_python(tmp_path / "bin" / "python3.11", "3.11")
    found_313 = fake_python(tmp_path / "bin" / "python3.13", "3.13")
    fake_python(tmp_path / "bin" / "python3.12", "3.10")  # misnamed: not taken
    fake_python(tmp_path / "bin" / "python3.10", "3.10")  # unsupported: not looked for
    assert find_pythons(environ) == {"3.11": found_311, "3.13": found_313}


def test_default_falls_back_to_pyenv(tmp_path, environ):
    """A python3.X on PATH that does not run (a pyenv shim of an unselected version) gives way to pyenv's newest 3.X."""
    fake_python(tmp_path / "bin" / "python3.12", "3.12", exit_code=127)
    versions = tmp_path / "pyenv" / "versions"
    fake_python(versions / "3.12.9" / "bin" / "python3.12", "3.12")
    newest = fake_python(versions / "3.12.10" / "bin" / "python3.12", "3.12")
    assert find_pythons(environ) == {"3.12": newest}


def test_default_finds_nothing_on_an_empty_machine(environ):
    """Nothing on PATH and no pyenv: no interpreter, and no error (the tests that need one say so)."""
    assert find_pythons(environ) == {}


@pytest.mark.parametrize(("python", "line"), [("3.11", "5.2"), ("3.12", "6"), ("3.13", "6"), ("3.14", "6")])
def test_django_line(python, line):
    """pip resolves Django>=5.2,<7 to 5.2 LTS on Python 3.11 and to 6.x from 3.12 (Django 6 needs 3.12)."""
    assert python in SUPPORTED_PYTHONS
    assert django_line(python) == line
