"""Which programs a generated project's tests run, and which ones its CI provides.

Nothing here can run GitHub's runner, so the check is made on paper: every
program the project's Python code runs or requires (read from its source, not
from a list kept by hand) must be installed by a step of the workflow or be on
the runner image, as GitHub publishes its software list (a dated copy in
data/ubuntu-24.04-runner-programs.txt).

A requirement is a tuple of alternatives: ("chromium", "chromium-browser")
is met by either. What is read as running a program:
- `require_program("name", ...)` (the generated tests/conftest.py);
- `shutil.which("name")`, also over a literal tuple in a comprehension or a
  loop, and `which("a") or which("b")` (alternatives);
- a command given as a list whose first item is a literal name, to
  subprocess.run/Popen/check_call/check_output/call or
  asyncio.create_subprocess_exec, directly or through a local variable.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

import yaml

RUNNER_PROGRAMS = Path(__file__).parent / "data" / "ubuntu-24.04-runner-programs.txt"

SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "create_subprocess_exec"}

# apt packages whose programs are not named like the package (the default).
APT_PACKAGE_PROGRAMS = {
    "redis-server": ("redis-server", "redis-check-rdb", "redis-check-aof"),
    "redis-tools": ("redis-cli", "redis-benchmark"),
    "redis-sentinel": ("redis-sentinel",),
    "nodejs": ("node",),
    "npm": ("npm", "npx"),
    "postgresql-client": ("psql", "pg_isready"),
    "chromium": ("chromium",),
    "chromium-browser": ("chromium-browser",),
    "iproute2": ("ip", "ss", "tc", "bridge"),
}

# Actions that put programs on PATH.
ACTION_PROGRAMS = {
    "actions/setup-node": ("node", "npm", "npx"),
    "actions/setup-python": ("python", "python3", "pip"),
}

APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+install\s+([^;&|)}\n]+)")


def _call_name(node):
    """The called function's last name: `run` for subprocess.run(...), or None."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal_names(node):
    """The strings of a literal tuple/list/set of strings, or None."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
        if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            return tuple(e.value for e in node.elts)
    return None


def _string(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Reader(ast.NodeVisitor):
    """Collects requirements from one module."""

    def __init__(self):
        self.found = []  # tuples of alternative names
        self.loop_names = {}  # variable -> literal names it iterates over
        self.assigned_lists = {}  # variable -> literal command list (first item)
        self.handled = set()  # which() calls already counted in an `or`

    def _iterates(self, generators_or_for):
        for target, iterable in generators_or_for:
            names = _literal_names(iterable)
            if names and isinstance(target, ast.Name):
                self.loop_names[target.id] = names

    def visit_ListComp(self, node):
        self._iterates((g.target, g.iter) for g in node.generators)
        self.generic_visit(node)

    visit_GeneratorExp = visit_SetComp = visit_ListComp

    def visit_For(self, node):
        self._iterates([(node.target, node.iter)])
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_Assign(self, node):
        if isinstance(node.value, ast.List) and node.value.elts:
            first = _string(node.value.elts[0])
            for target in node.targets:
                if first and isinstance(target, ast.Name):
                    self.assigned_lists[target.id] = first
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        if isinstance(node.op, ast.Or):
            whiches = [v for v in node.values if isinstance(v, ast.Call) and _call_name(v) == "which"]
            names = [_string(v.args[0]) for v in whiches if v.args]
            if len(whiches) > 1 and all(names):
                self.found.append(tuple(names))
                self.handled.update(id(v) for v in whiches)
        self.generic_visit(node)

    def visit_Call(self, node):
        name = _call_name(node)
        first = node.args[0] if node.args else None
        if name in ("require_program", "which") and first is not None and id(node) not in self.handled:
            if _string(first):
                self.found.append((first.value,))
            elif isinstance(first, ast.Name) and first.id in self.loop_names:
                self.found.append(self.loop_names[first.id])
        elif name in SUBPROCESS_CALLS and first is not None:
            program = None
            if isinstance(first, ast.List | ast.Tuple) and first.elts:
                program = _string(first.elts[0])
            elif name == "create_subprocess_exec":
                program = _string(first)
            elif isinstance(first, ast.Name):
                program = self.assigned_lists.get(first.id)
            if program and "/" not in program:
                self.found.append((program,))
        self.generic_visit(node)


def required_programs(project: Path):
    """{alternatives: [files that need one of them]} for every .py file of the project."""
    needs = defaultdict(list)
    for path in sorted(project.rglob("*.py")):
        if any(part in {".venv", "node_modules", "build"} for part in path.relative_to(project).parts):
            continue
        reader = _Reader()
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for alternatives in reader.found:
            where = str(path.relative_to(project))
            if where not in needs[alternatives]:
                needs[alternatives].append(where)
    return dict(needs)


def workflow_programs(workflow: Path):
    """Programs the workflow's steps install: {program: the step's name}."""
    provided = {}
    data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    for job in data.get("jobs", {}).values():
        for step in job.get("steps", []):
            label = step.get("name") or step.get("uses") or "a step"
            uses = step.get("uses", "").split("@")[0]
            for program in ACTION_PROGRAMS.get(uses, ()):
                provided[program] = label
            for match in APT_INSTALL.finditer(step.get("run", "")):
                packages = [word for word in match.group(1).split() if not word.startswith("-")]
                for package in packages:
                    for program in APT_PACKAGE_PROGRAMS.get(package, (package,)):
                        provided[program] = label
    return provided


def runner_programs(listing: Path = RUNNER_PROGRAMS):
    """Programs on the runner image: the first word of each line of the vendored list."""
    programs = set()
    for line in listing.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            programs.add(line.split()[0])
    return programs


def missing_programs(project: Path, workflow: Path, listing: Path = RUNNER_PROGRAMS):
    """Requirements of the project that neither the workflow nor the runner image meets.

    Returns lines such as "redis-server (tests/conftest.py)", sorted.
    """
    available = set(workflow_programs(workflow)) | runner_programs(listing)
    problems = []
    for alternatives, files in required_programs(project).items():
        if not available.intersection(alternatives):
            problems.append(f"{' or '.join(alternatives)} ({', '.join(files)})")
    return sorted(problems)
