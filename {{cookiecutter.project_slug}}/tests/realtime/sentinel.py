"""A Redis primary, a replica and a Sentinel on spare loopback ports, for tests.

`redis-server --sentinel` is Sentinel (Debian's redis-sentinel package is a
link to the same program), so nothing beyond redis-server is needed.
"""

import subprocess
import time

import redis

from realtime_api.testing.live_server import free_port, wait_for_port

SERVICE = "mymaster"


class SentinelCluster:
    """`.start()`; `.fail_over()` kills the primary and waits for a new one."""

    def __init__(self, folder):
        self.folder = folder
        self.primary_port, self.replica_port, self.sentinel_port = (
            free_port(),
            free_port(),
            free_port(),
        )
        self.processes = {}

    @property
    def url(self):
        """REDIS_URL for the project: the Sentinel and the service it watches."""
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/0"

    def start(self):
        self._redis("primary", self.primary_port)
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1")
        # Sentinel rewrites its configuration file: one of its own.
        config = self.folder / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 1\n"
            # Down after 1 s without an answer, then promote at once.
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        self._start("sentinel", self.sentinel_port, [str(config), "--sentinel"])
        self._wait(lambda: self._linked(), "the replica did not sync with the primary")
        self._wait(
            lambda: self._sentinel().sentinel_slaves(SERVICE),
            "Sentinel did not find the replica",
        )
        return self

    def primary(self):
        """The port Sentinel names as the primary now."""
        _host, port = self._sentinel().sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def fail_over(self, timeout=20):
        """Kill the primary (no goodbye); wait until the replica is promoted."""
        self.processes.pop("primary").kill()
        self._wait(
            lambda: self.primary() == self.replica_port,
            "Sentinel did not promote the replica",
            timeout,
        )

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)

    def _redis(self, name, port, *replica_of):
        arguments = ["--port", str(port), "--bind", "127.0.0.1"]
        arguments += ["--save", "", "--appendonly", "no"]
        if replica_of:
            arguments += [*replica_of, str(self.primary_port)]
        self._start(name, port, arguments)

    def _start(self, name, port, arguments):
        command = ["redis-server", *arguments]
        with open(self.folder / f"{name}.log", "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        if not wait_for_port(port, 10, process):
            raise RuntimeError(f"{name} redis-server did not start")

    def _sentinel(self):
        return redis.Redis(port=self.sentinel_port, socket_timeout=2)

    def _linked(self):
        info = redis.Redis(port=self.replica_port, socket_timeout=2).info("replication")
        return info.get("master_link_status") == "up"

    @staticmethod
    def _wait(condition, message, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(message)
