"""A read replica that does not answer: the dashboard reads the primary instead, says so once
and counts it, and goes back to the replica once it answers."""

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from app.infra.db import make_engine
from app.infra.migrate import upgrade
from app.infra.models import Case
from app.infra.read_replica import ReadSessions
from sandbox.embedded import free_port

from ..databases import another_database
from ..helpers import ADMIN, AuthActions, file_reports, visible
from ..test_metrics import scrape
from .conftest import add_user

SAID = "the read replica did not answer"


def unreachable(database_url: str, tmp_path) -> str:
    """A replica's URL of the run's kind that nothing answers: a closed port, a missing folder."""
    if database_url.startswith("postgresql"):
        return make_url(database_url).set(port=free_port()).render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'missing' / 'replica.db'}"


def signed_in(app):
    add_user(app, "admin")
    client = app.test_client()
    assert AuthActions(client).login(ADMIN).status_code == 302
    return client


def test_a_replica_that_does_not_answer_leaves_the_dashboard_to_the_primary(
    make_app, database_url, tmp_path, caplog
):
    app = make_app(DATABASE_READ_URL=unreachable(database_url, tmp_path))
    file_reports(app, 2)
    client = signed_in(app)
    for _ in range(2):
        response = client.get("/console/dashboard")
        assert response.status_code == 200
        assert "0 apprenant, 2 dossiers" in visible(response)  # the primary's figures
    said = [r for r in caplog.records if r.getMessage().startswith(SAID)]
    assert len(said) == 1 and said[0].levelno == logging.WARNING  # once, not at every page
    assert "127.0.0.1" not in said[0].getMessage() and "missing" not in said[0].getMessage()
    assert scrape(client)[("kalan_read_fallbacks_total", ())] == 2


def test_a_replica_dropped_while_the_app_runs_leaves_it_to_the_primary(
    make_app, database_url, tmp_path
):
    """Its pooled connections die with it: the next page finds out before its first figure."""
    with another_database(database_url, tmp_path) as replica:
        app = make_app(DATABASE_READ_URL=replica)
        file_reports(app, 3)  # on the primary only
        client = signed_in(app)
        assert "0 apprenant, 0 dossier" in visible(client.get("/console/dashboard"))
        if replica.startswith("sqlite"):  # a file has no server to drop it: it goes away
            app.extensions["read_engine"].dispose()
            copy = Path(make_url(replica).database)
            copy.rename(tmp_path / "gone.db")
            copy.mkdir()  # where the file was: a path SQLite cannot open
    response = client.get("/console/dashboard")  # the database is dropped now
    assert response.status_code == 200
    assert "0 apprenant, 3 dossiers" in visible(response)


def test_reads_go_back_to_the_replica_once_it_answers(tmp_path, caplog):
    """Tried again after retry_s (here at once): reads go back to it, and its next outage is
    said again."""
    primary, path = make_engine(f"sqlite:///{tmp_path / 'primary.db'}"), tmp_path / "later"
    replica = make_engine(f"sqlite:///{path / 'replica.db'}")  # its folder is not there yet
    upgrade(primary)
    fallbacks = []
    sessions = ReadSessions(sessionmaker(replica), sessionmaker(primary),
                            lambda: fallbacks.append(1), retry_s=0)  # fmt: skip
    for _ in range(2):
        with sessions() as db:
            assert db.get_bind() is primary
    path.mkdir()
    upgrade(replica)
    with sessions() as db:
        assert db.get_bind() is replica and db.scalars(select(Case)).all() == []
    replica.dispose()
    path.rename(tmp_path / "away")  # down again: a new outage, said again
    with sessions() as db:
        assert db.get_bind() is primary
    assert len(fallbacks) == 3
    messages = [r.getMessage() for r in caplog.records if r.name == "app.infra.read_replica"]
    assert [m.split(" (")[0].split(":")[0] for m in messages] == [
        SAID, "the read replica answers again", SAID,
    ]  # fmt: skip
    primary.dispose()
    replica.dispose()
