"""The Redis client from the settings: REDIS_URL's one server, or the primary Sentinel names."""

import subprocess

import pytest
from redis import Redis
from redis.exceptions import RedisError

from app.infra.redis_client import connect
from sandbox.embedded import EmbeddedRedis, free_port

from .conftest import Dial
from .kalan_standin import wait_for

MASTER = "kalan"
SENTINEL_PASSWORD = "sentinel-password-for-tests"


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A server and one sentinel watching it; yield (server, the sentinel's port)."""
    folder = tmp_path_factory.mktemp("sentinel")
    server = EmbeddedRedis(folder / "server").start()
    port = free_port()
    config = folder / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {server.port} 1\nrequirepass {SENTINEL_PASSWORD}\n"
    )
    sentinel = subprocess.Popen(
        [server.binary, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def answering():
        try:
            with Redis(port=port, socket_timeout=1, password=SENTINEL_PASSWORD) as client:
                return client.sentinel_get_master_addr_by_name(MASTER)
        except RedisError:
            return None

    try:
        wait_for(answering, 10)
        yield server, port
    finally:
        sentinel.kill()
        sentinel.wait()
        server.stop()


def sentinel_settings(port: int, **overrides) -> dict:
    """Return Redis settings naming one sentinel; REDIS_URL's host is nobody's."""
    return {
        "REDIS_URL": "redis://127.0.0.1:1/3",
        "REDIS_SENTINELS": (("127.0.0.1", port),),
        "REDIS_SENTINEL_MASTER": MASTER,
        "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD,
        **overrides,
    }


def fails_fast(client: Redis) -> bool:
    """Tell whether a client waits a second at most to connect and to read, and retries once."""
    kwargs = client.connection_pool.connection_kwargs
    return (
        kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 1
        and kwargs["retry"].get_retries() == 1
    )


def test_without_sentinels_the_client_talks_to_redis_url(redis_url):
    client = connect({"REDIS_URL": redis_url, "REDIS_SENTINELS": ()})
    assert fails_fast(client)
    client.set("kalan-test:one-server", "found", ex=60)
    with Redis.from_url(redis_url) as direct:
        assert direct.getdel("kalan-test:one-server") == b"found"
    client.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/3", "redis:///3"])
def test_with_sentinels_the_client_talks_to_the_primary_they_name(watched, url):
    server, port = watched
    client = connect(sentinel_settings(port, REDIS_URL=url))
    assert fails_fast(client)
    client.set("kalan-test:sentinel", "found")
    # REDIS_URL still gives the database: 3, on the server the sentinel named, not on port 1.
    with Redis(port=server.port, db=3) as direct:
        assert direct.get("kalan-test:sentinel") == b"found"
        direct.delete("kalan-test:sentinel")
    client.close()


def test_sentinels_that_do_not_answer_are_a_redis_error():
    # A RedisError is what a hop turns into the polite apology (app/web/hop_guard.py).
    client = connect(sentinel_settings(free_port()))
    with pytest.raises(RedisError):
        client.ping()


def test_sentinels_with_a_password_answer_only_with_it(watched):
    _, port = watched
    client = connect(sentinel_settings(port, REDIS_SENTINEL_PASSWORD=""))
    with pytest.raises(RedisError):
        client.ping()


def test_the_app_reaches_redis_through_the_sentinels(make_app, watched):
    _, port = watched
    app = make_app(**sentinel_settings(port, REDIS_SENTINELS=f"127.0.0.1:{port}"))
    assert Dial(app.test_client())().startswith("CON Kalan - Menu principal")
