"""realtime.d.ts: the declarations of realtime.js, checked by TypeScript.

`tsc --noEmit --strict` compiles them and typescript/usage.ts, which uses the
client as the README does. TypeScript comes from npm into a cache folder,
installed on first use (`npm install typescript`); without npm the test is
skipped, or fails when CI is set.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import running_in_ci

STATIC = settings.BASE_DIR / "realtime_api" / "static" / "realtime_api"
USAGE = Path(__file__).parent / "typescript" / "usage.ts"
TYPESCRIPT = "typescript@5"


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "realtime-api-typescript"


@pytest.fixture(scope="module")
def tsc():
    """The tsc program: from the cache folder, installed there if missing."""
    prefix = cache_dir()
    program = prefix / "node_modules" / ".bin" / "tsc"
    if not program.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            reason = "needs node and npm to install TypeScript (apt-get install npm)"
            if running_in_ci():
                pytest.fail(f"{reason} (CI is set, so this is a failure)")
            pytest.skip(reason)
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                TYPESCRIPT,
            ],
            check=True,
            timeout=300,
        )
    return program


def run_tsc(tsc, *files):
    options = ["--noEmit", "--strict", "--target", "es2022", "--module", "es2022"]
    options += ["--moduleResolution", "bundler", "--lib", "es2022,dom"]
    return subprocess.run(
        [str(tsc), *options, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.live
def test_the_declarations_and_their_use_type_check(tsc):
    """The README's use of the client compiles against realtime.d.ts, strictly.

    usage.ts's `@ts-expect-error` lines must fail to type-check (tsc reports
    an unused one): declarations loose enough to take anything fail here.
    """
    result = run_tsc(tsc, STATIC / "realtime.d.ts", USAGE)
    assert result.returncode == 0, result.stdout + result.stderr


def exported_names(text):
    pattern = r"^export (?:declare )?(?:class|function|const) (\w+)"
    return set(re.findall(pattern, text, re.MULTILINE))


def client_methods(text, start):
    """Method names (two-space indented) of the class that starts at `start`."""
    body = text[text.index(start) :]
    body = body[: body.index("\n}\n")]
    return set(re.findall(r"^  (\w+)[<(]", body, re.MULTILINE)) - {"constructor"}


def test_the_declarations_cover_what_realtime_js_exports():
    """Every export of realtime.js is declared, and every public method."""
    source = (STATIC / "realtime.js").read_text()
    declarations = (STATIC / "realtime.d.ts").read_text()
    assert exported_names(source) == exported_names(declarations)
    public = source[
        source.index("// --- Public API") : source.index("// --- The connection")
    ]
    declared = client_methods(declarations, "export declare class RealtimeClient")
    assert set(re.findall(r"^  (\w+)\(", public, re.MULTILINE)) == declared


def declared_union(text, name):
    """The string literals of `export type <name> = "a" | "b" ...;`."""
    match = re.search(rf"^export type {name} =(.*?);", text, re.MULTILINE | re.DOTALL)
    return set(re.findall(r'"(\w+)"', match.group(1)))


def test_the_declared_actions_are_the_action_table():
    """`Action` in realtime.d.ts lists the protocol's actions of actions.py.

    Frame verbs answered before a stream is looked up (reauthenticate) may
    be declared too; a view's @actions come through the client's type.
    """
    from realtime_api.protocol import METHODS
    from realtime_api.streams.actions import BUILTIN_ACTIONS, PROTOCOL_VERBS

    declarations = (STATIC / "realtime.d.ts").read_text()
    declared = declared_union(declarations, "Action")
    assert set(BUILTIN_ACTIONS) <= declared <= PROTOCOL_VERBS
    assert declared_union(declarations, "HttpMethod") == set(METHODS)
