"""Follow the generated README's "Serve a new model over the socket" literally.

The README marks each code block a reader copies with an HTML comment,
`<!-- walkthrough: PATH -->`: a new file is written as it stands; for a file
the project has, its `from ...` lines join the imports and its other lines go
where the README says (after the router's creation, or at the end).
`<!-- walkthrough: PATH +CLASS -->` adds to a file written earlier: its
imports join the others and its (indented) lines go at the end of CLASS,
the file's last class.
"""

import queue
import re
import shutil
import socket
import subprocess
import textwrap
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

BLOCK = re.compile(r"<!-- walkthrough: (\S+(?: \+\w+)?) -->\n\s*```python\n(.*?)\n\s*```", re.S)
# Where the lines of a block for an existing file go: after this line.
ANCHORS = {"config/urls.py": "router = DefaultRouter()\n"}


def blocks(readme):
    """{path: code} of the walk-through's marked blocks, in order ("PATH +CLASS"
    for an addition to a class)."""
    return {path: textwrap.dedent(code) for path, code in BLOCK.findall(readme)}


def copy_project(source, target):
    """A copy of a baked project without its venv and databases."""
    ignore = shutil.ignore_patterns(".venv", "*.sqlite3*", "__pycache__", "*.egg-info")
    shutil.copytree(source, target, ignore=ignore)
    return target


def apply(project, path, code):
    """Write a new file, or add a block's lines to an existing one."""
    path, _, into_class = path.partition(" +")
    target = Path(project) / path
    if into_class:
        add_to_class(target, into_class, code)
        return
    if not target.exists() or target.parent.name == "library":
        target.write_text(code + "\n")
        return
    imports = [line for line in code.splitlines() if line.startswith("from ")]
    rest = [line for line in code.splitlines() if line and line not in imports]
    imports = [line.split("  #")[0] for line in imports]
    text = target.read_text()
    last_import = max(match.end() for match in re.finditer(r"^(from|import) .*\n", text, re.M))
    text = text[:last_import] + "\n".join(imports) + "\n" + text[last_import:]
    anchor = ANCHORS.get(path)
    if anchor:
        at = text.index(anchor) + len(anchor)
        text = text[:at] + "\n".join(rest) + "\n" + text[at:]
    else:
        text += "\n".join(rest) + "\n"
    target.write_text(text)


def add_to_class(target, class_name, code):
    """Add a block's imports to a file, and its indented lines to its last class."""
    text = target.read_text()
    last_class = list(re.finditer(r"^class (\w+)", text, re.M))[-1]
    assert last_class.group(1) == class_name, f"{class_name} is not the last class of {target}"
    imports = [line.split("  #")[0] for line in code.splitlines() if line.startswith("from ")]
    rest = [line for line in code.splitlines() if not line.startswith("from ")]
    last_import = max(match.end() for match in re.finditer(r"^(from|import) .*\n", text, re.M))
    text = text[:last_import] + "\n".join(imports) + "\n" + text[last_import:]
    target.write_text(text.rstrip("\n") + "\n" + "\n".join(rest).rstrip() + "\n")


def add_installed_app(project, app):
    """Step 1's "add it to INSTALLED_APPS", after the realtime app."""
    base = Path(project) / "config/settings/base.py"
    text = base.read_text()
    base.write_text(text.replace('    "realtime_api",\n', f'    "realtime_api",\n    "{app}",\n'))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def post_form(url, token, fields):
    """POST a form, as `curl -H "Authorization: Token ..." -d ...` does."""
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Authorization": f"Token {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


class LineReader:
    """The lines a command prints, read in a thread, awaited with a deadline."""

    def __init__(self, command, **kwargs):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
        self.queue = queue.Queue()
        self.lines = []
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.process.stdout:
            self.queue.put(line)

    def until(self, predicate, timeout=20):
        """Return the first line (read from now on) for which `predicate` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.lines.append(line)
            if predicate(line):
                return line
        raise AssertionError("not printed; the command printed:\n" + "".join(self.lines))

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
