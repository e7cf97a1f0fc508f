"""Redis restarted mid-traffic: a polite screen meanwhile, a clean start after, nothing lost."""

import pytest

from sandbox.embedded import EmbeddedRedis

from ..conftest import Dial
from ..helpers import BODY, SMS, write_behind

UNAVAILABLE = "END Service momentanément indisponible."
MENU = "CON Kalan - Menu principal"


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, persisting like a production one (append-only file)."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    yield server
    server.stop()


def restart(server: EmbeddedRedis, keep: bool) -> None:
    """Stop the server and start it again on its port, with its data or without."""
    server.stop()
    if not keep:  # a failover to an empty replica: the append-only files and any snapshot go
        for file in server.directory.rglob("*"):
            if file.is_file() and file.name != "redis.log":
                file.unlink()
    server.start()


def in_flight(client) -> tuple[Dial, Dial]:
    """A learner three lessons into a module, and a reporter one answer from sending."""
    learner, reporter = Dial(client, phone="+22376000601"), Dial(client, phone="+22376000602")
    lesson = learner("1", "1", "1", "1")  # Formation, lessons 1 to 3
    assert lesson.startswith("CON ") and "Suite" in lesson
    assert "1. Envoyer" in reporter("2", *BODY, SMS)
    return learner, reporter


@pytest.mark.parametrize("keep", [True, False], ids=["persisted", "wiped"])
def test_a_redis_restart_mid_traffic(make_app, private_redis, keep):
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    learner, reporter = in_flight(client)
    lesson = learner.post("*".join(learner.inputs))  # the screen the learner is on
    if not keep:  # the clock wrote the learner's places meanwhile: Redis loses only the rest
        write_behind(app)

    private_redis.stop()
    during = [Dial(client, phone=f"+2237660{n:04d}")() for n in range(3)]
    during.append(learner("1"))
    assert all(reply.startswith(UNAVAILABLE) for reply in during), during
    restart(private_redis, keep)

    # The learner's place is in SQL: Formation then Continuer lands on the next lesson.
    back = Dial(client, phone="+22376000601")
    first = back()
    if keep:  # the resume point survived: one answer takes the learner back
        assert "Reprendre" in first
        assert back("1") == lesson
    else:  # a clean start: the main menu, then Continuer from the database
        assert first.startswith(MENU)
        assert back("1", "1") == lesson
    # The reporter's answers live in the session: kept with a persisting Redis.
    again = Dial(client, phone="+22376000602")
    if keep:
        assert "Reprendre" in again() and "1. Envoyer" in again("1")
        assert again("1").startswith("END Merci. Référence : ")
    else:
        assert again().startswith(MENU)  # a clean screen, never an error
    # An in-flight session of the old server goes on cleanly, whatever its text.
    late = reporter.post("*".join([*reporter.inputs, "1"]))
    assert late.startswith(("CON ", "END ")) and "indisponible" not in late
