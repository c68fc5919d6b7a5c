"""Run the bench through the shipped nginx, as a deployment is served.

    daphne -b 127.0.0.1 -p 8000 --proxy-headers bench.asgi:application &
    python -m bench.behind_nginx --upstream-port 8000 -- --workloads neighbours

starts deploy/nginx.conf (rendered by bench/nginx.py: no TLS, a free
loopback port) in front of the server on 127.0.0.1:<upstream-port>, runs
`python -m bench` with --url on nginx and the arguments after `--`, and
stops nginx. What nginx refuses (limit_req on /ws/: 429 past 20 handshakes
a second, 200 at once, per address) never reaches the server: that is how
a deployment refuses a handshake flood cheaply. The site-wide pace (50
handshakes a second, queued) holds a flood back before that: one address
sending faster than 20 a second is refused once it is 200 ahead. Serve the server with
daphne's --proxy-headers, as deploy/systemd does, so that the limits per
address of the application count the address nginx saw. nginx's own CPU
during the run is printed at the end (the bench's figures are the server's).
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from . import cli
from .nginx import NginxServer


def cpu_seconds_of_children(parent):
    """User + system CPU seconds of the processes whose parent is `parent`."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main(argv=None, stdout=None):
    """Run the bench's command line (in this process) on nginx's URL."""
    parser = argparse.ArgumentParser(prog="python -m bench.behind_nginx")
    parser.add_argument("--upstream-port", type=int, default=8000)
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    bench_args = [a for a in args.bench_args if a != "--"]
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as prefix:
        static_root = Path(prefix) / "static"
        static_root.mkdir()
        nginx = NginxServer(binary, prefix, [args.upstream_port], static_root)
        nginx.start()
        try:
            url = f"{nginx.ws_url}/ws/"
            if "--http-origin" not in bench_args:
                # nginx says X-Forwarded-Proto: https, as a TLS deployment's:
                # the CSRF check of replay's PATCHes expects an https Origin.
                bench_args += ["--http-origin", f"https://{urlsplit(url).netloc}"]
            status = cli.main(["--url", url, *bench_args], stdout=stdout)
            spent = cpu_seconds_of_children(nginx.process.pid)
            print(f"nginx workers' CPU during the run: {spent:.1f} s", file=stdout)
        finally:
            nginx.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
