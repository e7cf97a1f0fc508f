"""Recordings kept with cases (app/cases/recordings.py): attached when a report is filed by
voice, fetched over real HTTP by the worker's job, stored encrypted, deleted with the case."""

import logging
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update

from app.cases import recordings
from app.infra import download, keyring
from app.infra.media import Recording
from app.infra.models import Case, CaseEvent, utcnow
from workers import jobs

from .conftest import Runner
from .helpers import REPORTER, fetch_now, file_by_voice, media_server, wav

A, B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
def app(make_app, folder):
    """An app that keeps its recordings in a folder of the test's own."""
    return make_app(RECORDINGS_DIR=str(folder))


@pytest.fixture
def media():
    with media_server() as served:
        yield served


def row(app, recording_id: int) -> Recording:
    with app.extensions["db"]() as db:
        return db.get(Recording, recording_id)


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def queued(app) -> list[tuple]:
    """Return the fetches waiting in the queue, as (function, args)."""
    jobs_ = app.extensions["queue"].jobs
    return [(j.func_name, j.args) for j in jobs_ if j.func_name == recordings.JOB]


# -- attached when a report is filed ------------------------------------------------------------


def test_a_report_by_voice_is_filed_its_recording_fetched_and_kept_encrypted(app, media, folder):
    audio = wav()
    url = media.serve("/rec/ATVId_1.wav", audio)
    recording_id = file_by_voice(app, url)
    pending = row(app, recording_id)
    assert (pending.status, pending.source_url, pending.attempts) == ("pending", url, 0)
    assert pending.created_at.minute == 0  # to the hour, as the case: a minute names a call
    with app.extensions["db"]() as db:
        case = db.get(Case, pending.case_id)
        assert case.reference == "400001" and case.place is None
    assert queued(app) == [(recordings.JOB, (recording_id,))]  # the worker is told at once

    assert fetch_now(app, recording_id) == "fetched"
    kept = row(app, recording_id)
    assert (kept.status, kept.size, kept.content_type) == ("fetched", len(audio), "audio/wav")
    assert kept.source_url is None  # the provider's URL could tie the call to a number
    assert kept.fetched_at.minute == 0 and kept.error is None
    (stored,) = files(folder)
    assert stored.relative_to(folder).as_posix() == kept.path
    assert kept.path.startswith(f"{case.id}/") and kept.path.endswith(".wav.enc")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert b"RIFF" not in stored.read_bytes()  # a copy of the folder plays nothing
    assert keyring.fernet(app.config["REPORTER_KEY"]).decrypt(stored.read_bytes()) == audio
    assert recordings.read(app.config, kept) == audio
    assert media.hits == ["/rec/ATVId_1.wav"]


def test_a_report_sent_again_keeps_the_first_recording_only(app, media):
    first = file_by_voice(app, media.serve("/rec/1.wav", wav()))
    # The same report sent again under the reference it was shown: no second copy of a voice.
    assert file_by_voice(app, media.serve("/rec/2.wav", wav())) == first
    with app.extensions["db"]() as db:
        assert db.scalars(select(Recording.id)).all() == [first]
    assert queued(app) == [(recordings.JOB, (first,))]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://media.example.org/a.wav",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "https://user:secret@media.example.org/a.wav",
        "https://media.example.org/a b.wav",
        "https://media.example.org:99999/a.wav",
        "https://media.example.org/" + "a" * 1000,
        12,
    ],
)
def test_a_url_we_would_not_fetch_is_refused(app, url):
    with app.extensions["db"]() as db:
        case = Case(reference="400002", status="new", contactable=False, created_at=utcnow())
        db.add(case)
        db.flush()
        with pytest.raises(recordings.BadRecording):
            recordings.attach(db, case, url, utcnow())


def test_a_bad_url_is_dropped_and_logged_without_it_and_the_report_still_filed(app, caplog):
    url = "file:///etc/passwd?+22376000555"
    with caplog.at_level(logging.WARNING):
        assert file_by_voice(app, url) is None
    with app.extensions["db"]() as db:
        assert db.scalar(select(Case.reference)) == "400001"
    assert queued(app) == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "recording was dropped" in logged
    assert "passwd" not in logged and REPORTER not in logged


# -- what the worker refuses --------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["length said", "length unsaid"])
def test_a_file_over_5_mb_is_refused(app, media, folder, chunked):
    big = wav() + b"\0" * recordings.MAX_BYTES
    recording_id = file_by_voice(app, media.serve("/big.wav", big, chunked=chunked))
    assert fetch_now(app, recording_id) == "failed"
    failed = row(app, recording_id)
    assert failed.status == "failed" and "larger than" in failed.error
    assert failed.source_url is None
    assert files(folder) == []


def test_a_page_that_is_not_audio_is_refused(app, media, folder):
    page = b"<html><body>Connexion requise</body></html>"
    recording_id = file_by_voice(app, media.serve("/login", page, Content_Type="text/html"))
    assert fetch_now(app, recording_id) == "failed"
    assert row(app, recording_id).error == "not audio (content type text/html)"
    assert files(folder) == []


def test_audio_is_known_by_its_first_bytes_whatever_the_type_said(app, media):
    url = media.serve("/x", wav(), Content_Type="application/octet-stream")
    recording_id = file_by_voice(app, url)
    assert fetch_now(app, recording_id) == "fetched"
    kept = row(app, recording_id)
    assert kept.content_type == "audio/wav" and kept.path.endswith(".wav.enc")


@pytest.mark.parametrize(
    ("body", "said", "kind"),
    [
        (b"ID3\x04\0\0\0\0\0\0", "application/octet-stream", ("mp3", "audio/mpeg")),
        (b"\xff\xfb\x90\x64" + b"\0" * 8, "", ("mp3", "audio/mpeg")),
        (b"OggS\0\x02", "", ("ogg", "audio/ogg")),
        (b"\x1a\x45\xdf\xa3\x01", "video/webm", ("webm", "audio/webm")),
        (b"#!AMR\n", "audio/amr", ("audio", "audio/amr")),
        (b"\0\0\0\0", "audio/x-wav", ("wav", "audio/wav")),
    ],
)
def test_the_format_kept(body, said, kind):
    assert recordings.audio_kind(body, said) == kind


@pytest.mark.parametrize(
    ("body", "said"),
    [(b"", "audio/wav"), (b"RIFF", "text/plain"), (b"x", "audio/<script>")],
)
def test_what_is_not_audio(body, said):
    with pytest.raises(download.Refused):
        recordings.audio_kind(body, said)


# -- tried again, and only once at a time ---------------------------------------------------------


def test_a_passing_failure_is_tried_again_later_then_fetched_once(app, media, folder):
    url = media.serve("/later.wav", b"", status=503)
    recording_id = file_by_voice(app, url)
    started = utcnow()
    assert fetch_now(app, recording_id) == "pending"
    waiting = row(app, recording_id)
    assert (waiting.attempts, waiting.error, waiting.source_url) == (1, "HTTP 503", url)
    assert timedelta(seconds=29) < waiting.not_before - started < timedelta(seconds=40)
    scheduled = app.extensions["queue"].scheduled_job_registry.get_job_ids()
    assert len(scheduled) == 1  # the next try, at its time
    # Run again before its time (a duplicate job): nothing is done.
    assert fetch_now(app, recording_id) == "skipped"
    assert media.hits == ["/later.wav"]

    media.serve("/later.wav", wav())
    with app.extensions["db"]() as db:
        db.execute(update(Recording).values(not_before=utcnow()))
        db.commit()
    assert fetch_now(app, recording_id) == "fetched"
    assert fetch_now(app, recording_id) == "skipped"  # a retried job finds it done
    assert len(files(folder)) == 1
    assert row(app, recording_id).attempts == 2


def test_a_folder_that_cannot_be_written_is_a_passing_failure(make_app, media, tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    app = make_app(RECORDINGS_DIR=str(blocked))
    url = media.serve("/a.wav", wav())
    recording_id = file_by_voice(app, url)
    with caplog.at_level(logging.WARNING):
        assert fetch_now(app, recording_id) == "pending"
    waiting = row(app, recording_id)
    assert waiting.attempts == 1 and waiting.error.startswith("could not write the file (")
    assert waiting.source_url == url  # kept for the next try
    logged = [r.getMessage() for r in caplog.records]
    assert f"recording {recording_id} pending: could not write the file (" in logged[-1]
    assert "a.wav" not in " ".join(logged)


def test_a_fetch_run_again_after_a_crash_writes_the_same_file(app, media, folder):
    """The file was written and the commit lost: the next run replaces it, no second copy."""
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    pending = row(app, recording_id)
    assert fetch_now(app, recording_id) == "fetched"
    (first,) = files(folder)
    with app.extensions["db"]() as db:
        db.execute(
            update(Recording).values(
                status="pending", path=pending.path, source_url=pending.source_url, not_before=None
            )
        )
        db.commit()  # fmt: skip
    media.serve("/a.wav", b"ID3\x04" + b"\0" * 64, Content_Type="audio/mpeg")  # now an MP3
    assert fetch_now(app, recording_id) == "fetched"
    (second,) = files(folder)
    assert second.name == first.name.replace(".wav.", ".mp3.")


def test_a_fetch_held_by_another_worker_is_left_to_it(app, media):
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    with app.extensions["db"]() as db:
        taken = recordings._claim(db, recording_id, utcnow())
    assert taken is not None
    assert fetch_now(app, recording_id) == "skipped"
    assert media.hits == []


def test_after_the_last_attempt_it_fails(app, media, folder):
    recording_id = file_by_voice(app, media.serve("/gone.wav", b"", status=404))
    with app.extensions["db"]() as db:
        db.execute(update(Recording).values(attempts=recordings.MAX_ATTEMPTS - 1))
        db.commit()
    assert fetch_now(app, recording_id) == "failed"
    failed = row(app, recording_id)
    assert failed.status == "failed" and failed.source_url is None
    assert failed.error == f"gave up after {recordings.MAX_ATTEMPTS} tries: HTTP 404"
    assert app.extensions["queue"].scheduled_job_registry.get_job_ids() == []


def test_the_tick_queues_again_a_fetch_whose_job_was_lost(app, media):
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    app.extensions["queue"].empty()  # Redis lost it
    with app.app_context():
        jobs.tick()
    assert queued(app) == []  # just filed: its job may still be on the way
    with app.extensions["db"]() as db:
        late = utcnow() - timedelta(seconds=recordings.GRACE_S + 1)
        db.execute(update(Recording).values(not_before=late))
        db.commit()
    with app.app_context():
        jobs.tick()
    assert queued(app) == [(recordings.JOB, (recording_id,))]


# -- deleted with the case ----------------------------------------------------------------------


def test_erasing_a_cases_recordings_deletes_files_and_rows(app, media, folder):
    kept = file_by_voice(app, media.serve("/a.wav", wav()))
    other = file_by_voice(app, media.serve("/b.wav", wav()), reference="400003", sector="cotton")
    pending = file_by_voice(app, media.serve("/c.wav", wav()), reference="400004", age="6to9")
    for recording_id in (kept, other):
        assert fetch_now(app, recording_id) == "fetched"
    case_id, path = row(app, kept).case_id, row(app, kept).path
    with app.extensions["db"]() as db:
        assert recordings.erase(db, folder, [case_id, row(app, pending).case_id]) == 2
        db.commit()
    assert not (folder / path).exists() and not (folder / str(case_id)).exists()
    assert row(app, kept) is None and row(app, pending) is None
    assert [p.relative_to(folder).as_posix() for p in files(folder)] == [row(app, other).path]


def test_a_case_deleted_in_sql_takes_its_recordings_rows(app, media):
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    with app.extensions["db"]() as db:
        db.execute(delete(CaseEvent))
        db.execute(delete(Case))
        db.commit()
    assert row(app, recording_id) is None


def test_a_recording_deleted_while_it_downloads_leaves_no_file(app, media, folder):
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    case_id = row(app, recording_id).case_id

    def erased_meanwhile():
        with app.extensions["db"]() as db:
            recordings.erase(db, folder, [case_id])
            db.commit()
        return 200, {"Content-Type": "audio/wav"}, wav()

    media.routes["/a.wav"] = erased_meanwhile
    assert fetch_now(app, recording_id) == "skipped"
    assert files(folder) == []


def test_the_command_erases_a_cases_recordings_and_notes_it(app, media, folder):
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    assert fetch_now(app, recording_id) == "fetched"
    result = Runner(app).invoke(["case", "erase-recordings", "400001"], input="y\n")
    assert result.exit_code == 0, result.output
    assert "1 recording(s) of case 400001 deleted" in result.output
    assert files(folder) == [] and row(app, recording_id) is None
    with app.extensions["db"]() as db:
        notes = db.scalars(select(CaseEvent.note).order_by(CaseEvent.id)).all()
    assert notes[-1] == "recordings deleted (1)"
    refused = Runner(app).invoke(["case", "erase-recordings", "999999", "--yes"])
    assert refused.exit_code == 1 and "no case '999999'" in refused.output


# -- the key --------------------------------------------------------------------------------------


def test_rotating_the_key_rewrites_the_files(make_app, media, folder):
    old = make_app(RECORDINGS_DIR=str(folder), REPORTER_KEY=A)
    recording_id = file_by_voice(old, media.serve("/a.wav", wav()))
    assert fetch_now(old, recording_id) == "fetched"
    app = make_app(RECORDINGS_DIR=str(folder), REPORTER_KEY=f"{B},{A}")
    result = Runner(app).invoke(["keys", "rotate-reporter"])
    assert result.exit_code == 0, result.output
    assert "and 1 recording(s)" in result.output
    (stored,) = files(folder)
    assert keyring.fernet(B).decrypt(stored.read_bytes()) == wav()
    with pytest.raises(InvalidToken):
        keyring.fernet(A).decrypt(stored.read_bytes())
    again = Runner(app).invoke(["keys", "rotate-reporter"])
    assert "and 0 recording(s)" in again.output  # safe to run again


def test_a_recording_no_key_opens_stops_the_rotation_and_cannot_be_read(make_app, media, folder):
    old = make_app(RECORDINGS_DIR=str(folder), REPORTER_KEY=A)
    recording_id = file_by_voice(old, media.serve("/a.wav", wav()))
    assert fetch_now(old, recording_id) == "fetched"
    app = make_app(RECORDINGS_DIR=str(folder), REPORTER_KEY=B)
    result = Runner(app).invoke(["keys", "rotate-reporter"])
    assert result.exit_code == 1
    assert "error: case 400001: a recording opens with none of the keys" in result.output
    with pytest.raises(recordings.Unreadable):
        recordings.read(app.config, row(app, recording_id))


def test_a_missing_file_cannot_be_read(app, media, folder):
    recording_id = file_by_voice(app, media.serve("/a.wav", wav()))
    assert fetch_now(app, recording_id) == "fetched"
    for path in files(folder):
        os.remove(path)
    with pytest.raises(recordings.Unreadable):
        recordings.read(app.config, row(app, recording_id))
