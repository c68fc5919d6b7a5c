"""List the installed packages whose versions differ from the lock.

    python scripts/newest_vs_lock.py [requirements.txt]

After `pip install -e ".[dev]"` (the newest releases inside pyproject.toml's
ranges), this names what the canary run tests that the locked run does not:
when the canary fails and the locked suite passes, the culprit is among
these. Prints a Markdown table (the CI run's summary shows it); exits 0.
"""

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$"
)
ROOT = Path(__file__).resolve().parent.parent


def locked_versions(lock: Path) -> dict[str, str]:
    """{package: version} that the lock pins for this Python and platform."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            pins[canonicalize_name(name)] = version
    return pins


def installed_versions() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
    }


def differences(locked: dict[str, str], installed: dict[str, str]) -> list[tuple]:
    """(package, locked version or "-", installed version or "-"), sorted."""
    rows = []
    for name in sorted(locked.keys() | installed.keys()):
        if name in {"pip", "setuptools", "wheel"}:
            continue  # The installer's own, never locked.
        old, new = locked.get(name), installed.get(name)
        if old != new and not (old is None and name == own_project()):
            rows.append((name, old or "-", new or "-"))
    return rows


def own_project() -> str:
    """The project's own name: installed, never locked."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return canonicalize_name(tomllib.load(file)["project"]["name"])


def main(argv: list[str]) -> int:
    lock = Path(argv[1]) if len(argv) > 1 else ROOT / "requirements.txt"
    rows = differences(locked_versions(lock), installed_versions())
    if not rows:
        print(f"Every installed package is at the version of {lock.name}.")
        return 0
    print(f"{len(rows)} installed package(s) differ from {lock.name}:\n")
    print("| package | locked | installed |")
    print("| --- | --- | --- |")
    for name, old, new in rows:
        print(f"| {name} | {old} | {new} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
