"""A case's recordings on its console page: played to those who may see the case, to nobody
else; waiting or failed ones said in French."""

import re

import pytest
from sqlalchemy import select, update

from app.infra.media import Recording
from app.infra.models import AuditEntry

from ..helpers import (
    ADMIN,
    SUPERVISOR,
    VIEWER,
    assert_french,
    fetch_now,
    file_by_voice,
    media_server,
    page,
    wav,
)


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "recordings"


@pytest.fixture
def app(make_app, folder):
    """An app that keeps its recordings in a folder of the test's own."""
    return make_app(RECORDINGS_DIR=str(folder))


@pytest.fixture
def voiced(app):
    """A report by voice about a site in Kadiolo, its recording fetched; return its id."""
    with media_server() as media:
        recording_id = file_by_voice(app, media.serve("/rec.wav", wav()))
        assert fetch_now(app, recording_id) == "fetched"
    return recording_id


def players(response) -> list[str]:
    """Return the sources of a page's audio players."""
    return re.findall(r'<audio controls preload="none" src="([^"]+)"', page(response))


def listens(app) -> list[tuple]:
    with app.extensions["db"]() as db:
        query = select(AuditEntry.actor, AuditEntry.target).order_by(AuditEntry.id)
        return [tuple(r) for r in db.execute(query.where(AuditEntry.action == "case.listen"))]


def test_the_case_page_plays_its_recording_to_those_who_may_see_it(
    app, client, auth, staff, voiced
):
    assert auth.login(SUPERVISOR).status_code == 302  # Kadiolo's supervisor
    shown = client.get("/console/cases/400001")
    assert shown.status_code == 200
    assert_french(shown)
    assert "Lieu dit par téléphone" in page(shown)
    audio_url = f"/console/cases/400001/recordings/{voiced}"
    assert players(shown) == [audio_url]
    played = client.get(audio_url)
    assert played.status_code == 200
    assert played.mimetype == "audio/wav"
    assert played.headers["Cache-Control"] == "private, no-store"
    assert played.headers["X-Content-Type-Options"] == "nosniff"
    assert played.data == wav()
    assert listens(app) == [(SUPERVISOR, f"400001/{voiced}")]
    # Seeking asks for a part: served, and not counted as another listen.
    part = client.get(audio_url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == wav()[100:200]
    assert listens(app) == [(SUPERVISOR, f"400001/{voiced}")]


def test_a_user_who_cannot_see_the_case_cannot_hear_it(app, client, auth, staff, voiced):
    assert auth.login(VIEWER).status_code == 302  # the Koutiala region's viewer
    for path in ("/console/cases/400001", f"/console/cases/400001/recordings/{voiced}"):
        refused = client.get(path)
        assert refused.status_code == 404
        assert_french(refused)
    assert listens(app) == []


def test_signed_out_the_recording_leads_to_the_sign_in(client, voiced):
    response = client.get(f"/console/cases/400001/recordings/{voiced}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")


def test_a_recording_is_found_only_under_its_own_case(app, client, auth, staff, voiced):
    with media_server() as media:
        other = file_by_voice(app, media.serve("/b.wav", wav()), reference="400003", age="6to9")
        assert fetch_now(app, other) == "fetched"
    assert auth.login(ADMIN).status_code == 302
    assert client.get(f"/console/cases/400001/recordings/{other}").status_code == 404
    assert client.get(f"/console/cases/400003/recordings/{other}").status_code == 200
    assert client.get("/console/cases/400001/recordings/999").status_code == 404


def test_waiting_failed_and_lost_recordings_are_said_not_played(
    app, client, auth, staff, voiced, folder
):
    assert auth.login(ADMIN).status_code == 302
    with app.extensions["db"]() as db:
        db.execute(update(Recording).values(status="pending"))
        db.commit()
    waiting = client.get("/console/cases/400001")
    assert "Enregistrement en cours de récupération" in page(waiting)
    assert players(waiting) == []
    assert client.get(f"/console/cases/400001/recordings/{voiced}").status_code == 404
    with app.extensions["db"]() as db:
        db.execute(update(Recording).values(status="failed"))
        db.commit()
    failed = client.get("/console/cases/400001")
    assert "L'enregistrement n'a pas pu être récupéré." in page(failed)
    assert players(failed) == []
    with app.extensions["db"]() as db:
        db.execute(update(Recording).values(status="fetched"))
        db.commit()
    for path in folder.rglob("*.enc"):
        path.unlink()
    lost = client.get(f"/console/cases/400001/recordings/{voiced}")
    assert lost.status_code == 404
    assert_french(lost)


def test_a_case_without_recordings_shows_no_such_line(app, client, auth, staff, filed):
    assert auth.login(ADMIN).status_code == 302
    shown = client.get(f"/console/cases/{filed['kadiolo']}")
    assert "Lieu dit par téléphone" not in page(shown)


def test_recordings_erased_leave_a_french_line_in_the_history(
    app, client, auth, runner, staff, voiced, folder
):
    result = runner.invoke(["case", "erase-recordings", "400001", "--yes"])
    assert result.exit_code == 0, result.output
    assert list(folder.rglob("*.enc")) == []
    assert auth.login(ADMIN).status_code == 302
    shown = client.get("/console/cases/400001")
    assert "Enregistrements supprimés (1)" in page(shown)
    assert "recordings deleted" not in page(shown)
    assert "Lieu dit par téléphone" not in page(shown)
    assert client.get(f"/console/cases/400001/recordings/{voiced}").status_code == 404
