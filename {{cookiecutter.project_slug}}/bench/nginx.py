"""Run deploy/nginx.conf for real: Debian's nginx on loopback ports, in front
of daphne processes, as a child process (no daemon, no TLS), for the deploy
tests and the scale bench (bench/scale.py).

The shipped site is rendered with the fewest changes that let it run here:
the upstream's servers, the static folder, a loopback port instead of TLS.
Each change must find what it replaces, so a shipped file that drifts from
what the tests run fails loudly.
"""

import os
import re
import resource
import shlex
import subprocess
from pathlib import Path

from realtime_api.testing.live_server import free_port, wait_for_port

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SITE = DEPLOY / "nginx.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")


def unit_file():
    """deploy/systemd/<project>@.service: the one template unit."""
    (unit,) = (DEPLOY / "systemd").glob("*@.service")
    return unit


def unit_daphne_argv():
    text = unit_file().read_text()
    (line,) = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    argv = shlex.split(line)
    assert argv[0].endswith("/daphne") and argv[-1] == "config.asgi:application"
    return argv[1:-1]


def unit_daphne_options():
    """The daphne options of the unit's ExecStart, without where it listens
    (--endpoint, --bind, --port): DaphneServer says that (unit_backlog())."""
    options, rest = [], iter(unit_daphne_argv())
    for arg in rest:
        if arg in ("--endpoint", "--bind", "--port", "-e", "-b", "-p"):
            next(rest)
        else:
            options.append(arg)
    return options


def unit_backlog():
    """The listen backlog of the unit's endpoint (tcp:...:backlog=N)."""
    argv = unit_daphne_argv()
    endpoint = argv[argv.index("--endpoint") + 1]
    (backlog,) = re.findall(r"(?:^|:)backlog=(\d+)(?::|$)", endpoint)
    return int(backlog)


def substitute(pattern, replacement, text, count):
    """re.subn that insists on finding `pattern` exactly `count` times."""
    text, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert found == count, f"deploy/nginx.conf: {pattern!r} found {found}x"
    return text


def set_zone(text, zone, limit):
    """Give the limit_req zone named `zone` (rate a second, burst); a burst of
    None keeps the shipped one."""
    rate, burst = limit
    text = substitute(
        rf"^(limit_req_zone .* zone={zone}:\w+ rate=)\d+r/s;",
        rf"\g<1>{rate}r/s;",
        text,
        1,
    )
    if burst is None:
        return text
    return substitute(
        rf"(limit_req zone={zone} burst=)\d+( nodelay)?;", rf"\g<1>{burst}\2;", text, 1
    )


def render_site(
    upstream_ports,
    port,
    static_root,
    extra_ws_directives="",
    handshake_limit=None,
    site_handshake_limit=None,
):
    """The shipped site, on 127.0.0.1:`port`, in front of `upstream_ports`.

    nginx stands for the TLS terminator: it tells the application that the
    request came over HTTPS, as in production (the settings redirect
    anything else). `handshake_limit`, (rate a second, burst), replaces the
    shipped limit on WebSocket handshakes per address (a load from one
    address, a test of the limit); `site_handshake_limit` the site-wide one.
    """
    text = SITE.read_text()
    (project,) = re.findall(r"^upstream (\w+)_servers \{$", text, re.MULTILINE)
    if handshake_limit is not None:
        text = set_zone(text, f"{project}_handshakes", handshake_limit)
    if site_handshake_limit is not None:
        text = set_zone(text, f"{project}_site_handshakes", site_handshake_limit)
    # Each process, with the shipped server parameters (max_fails=0).
    server = r"^    server 127\.0\.0\.1:\d+((?: [^;]+)?);\n"
    parameters = re.search(server, text, re.MULTILINE)[1]
    servers = "".join(
        f"    server 127.0.0.1:{p}{parameters};\n" for p in upstream_ports
    )
    text = substitute(rf"{server}(?:    server .*\n)*", servers, text, 1)
    # The port-80 server only redirects to HTTPS: not run here.
    text = substitute(r"^server \{\n    listen 80;\n(?:.*\n)*?\}\n", "", text, 1)
    text = substitute(
        r"^    listen 443 ssl;$", f"    listen 127.0.0.1:{port};", text, 1
    )
    text = substitute(r"^    listen \[::\]:443 ssl;\n", "", text, 1)
    text = substitute(r"^    ssl_.*\n", "", text, 5)
    text = substitute(r"\$scheme", "https", text, 2)
    text = substitute(
        r"alias /srv/\w+/staticfiles/;", f"alias {static_root}/;", text, 1
    )
    return substitute(
        r"^(    location /ws/ \{\n)", rf"\1{extra_ws_directives}", text, 1
    )


def main_config(prefix, site, worker_connections=1024, workers=1):
    """nginx.conf for a foreground nginx whose files all live under `prefix`.

    Each proxied socket takes two of its worker's connections (client and
    upstream) and two file descriptors: more workers, when a worker would
    need more descriptors than the file limit allows.
    """
    types = f"include {MIME_TYPES};" if MIME_TYPES.exists() else ""
    temp = "".join(
        f"    {kind}_temp_path {prefix}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # Past the hard limit setrlimit fails (without CAP_SYS_RESOURCE).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = min(2 * worker_connections + 100, hard)
    # As root, workers would switch to an unprivileged user that cannot read
    # the test's private temporary folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    http = f"    {types}\n    access_log {prefix}/access.log;\n{temp}{site}"
    return (
        f"{user}daemon off;\nworker_processes {workers};\npid {prefix}/nginx.pid;\n"
        f"worker_rlimit_nofile {nofile};\n"
        f"error_log {prefix}/error.log warn;\n"
        # (Not an f-string: the template engine reads double braces.)
        "events { worker_connections " + str(worker_connections) + "; }\n"
        "http {\n" + http + "}\n"
    )


class NginxServer:
    """Debian's nginx (or `nginx` on PATH) in the foreground, on a free port."""

    def __init__(
        self,
        binary,
        prefix,
        upstream_ports,
        static_root,
        worker_connections=1024,
        workers=1,
        **render,
    ):
        self.binary = binary
        self.prefix = Path(prefix)
        self.port = free_port()
        site = render_site(upstream_ports, self.port, static_root, **render)
        self.config = self.prefix / "nginx.conf"
        config = main_config(self.prefix, site, worker_connections, workers)
        self.config.write_text(config)
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}"

    def command(self, *args):
        return [self.binary, "-p", str(self.prefix), "-c", str(self.config), *args]

    def start(self):
        error_log = str(self.prefix / "error.log")
        check = subprocess.run(
            self.command("-t", "-e", error_log), capture_output=True, text=True
        )
        assert check.returncode == 0, f"nginx -t failed:\n{check.stderr}"
        self.process = subprocess.Popen(
            self.command("-e", error_log), stderr=subprocess.STDOUT
        )
        if not wait_for_port(self.port, 10, self.process):
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{self.log()}")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # nginx: fast shutdown
            self.process.wait(timeout=10)

    def log(self):
        return (self.prefix / "error.log").read_text()
