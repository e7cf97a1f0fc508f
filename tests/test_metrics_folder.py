"""PROMETHEUS_MULTIPROC_DIR: a folder of Kalan's own, which a start empties of
prometheus_client's files only, and refuses when it holds anything else."""

import os
import signal
import sqlite3
import subprocess

import pytest

from app.infra.metrics import MARKER
from app.web import gunicorn_conf

from .deploy.test_image import container_env, free_port, start

WRITTEN = ["counter_101.db", "histogram_101.db", "gauge_livesum_102.db", "gauge_mostrecent_7.db"]


def folder_with(path, *names):
    """Make path with these files in it: a SQLite database for a .db, text for the rest."""
    path.mkdir()
    for name in names:
        if name.endswith(".db") and name not in WRITTEN:
            sqlite3.connect(path / name).execute("create table t (x)").connection.close()
        else:
            (path / name).write_text("x")
    return path


def test_a_start_marks_a_new_folder_and_empties_only_prometheus_clients_files(
    tmp_path, monkeypatch
):
    folder = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    gunicorn_conf.on_starting(None)
    assert [p.name for p in folder.iterdir()] == [MARKER]
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    for name in WRITTEN:
        (folder / name).write_bytes(b"\0" * 8)
    gunicorn_conf.on_starting(None)  # the next start counts from zero
    assert [p.name for p in folder.iterdir()] == [MARKER]


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["kalan.db"], "(kalan.db)"),  # the SQLite database, which a start would have deleted
        ([MARKER, "counter_101.db", "kalan.db"], "(kalan.db)"),
        ([MARKER, "counter_1.db.bak", "notes.txt"], "(counter_1.db.bak, notes.txt)"),
        (["counter_101.db", "kalan.db"], "(kalan.db)"),
        (["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"], "(a.txt, b.txt, c.txt and 2 more)"),
    ],
)
def test_a_folder_holding_files_of_others_stops_the_start_and_is_left_alone(
    tmp_path, monkeypatch, capsys, names, shown
):
    folder = folder_with(tmp_path / "var", *names)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    with pytest.raises(SystemExit) as stopped:
        gunicorn_conf.on_starting(None)
    assert stopped.value.code == 3
    assert capsys.readouterr().err == (
        f"kalan: cannot start: PROMETHEUS_MULTIPROC_DIR={folder} holds files Kalan did not "
        f"write {shown}: give the web metrics a new or empty folder of their own\n"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_an_app_refuses_such_a_folder_too(make_app, tmp_path, monkeypatch, capsys):
    """Whatever started it (flask run, a gunicorn of other settings): before any file is made."""
    folder = folder_with(tmp_path / "var", "kalan.db")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    with pytest.raises(SystemExit) as stopped:
        make_app()
    assert stopped.value.code == 3
    assert "kalan: cannot start: PROMETHEUS_MULTIPROC_DIR=" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["kalan.db"]


def test_gunicorn_stops_in_one_line_on_a_folder_of_others(app, tmp_path):
    """The Procfile's web: no traceback, and the database in the folder is still there."""
    folder = folder_with(tmp_path / "var", "kalan.db")
    env = container_env(app, tmp_path, PORT=str(free_port()), WEB_CONCURRENCY="1",
                        PROMETHEUS_MULTIPROC_DIR=str(folder))  # fmt: skip
    web = start("web", env)
    try:
        output, _ = web.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(web.pid, signal.SIGKILL)
        pytest.fail("gunicorn started on a folder of others")
    assert web.returncode != 0
    assert "kalan: cannot start: PROMETHEUS_MULTIPROC_DIR=" in output
    assert "Traceback" not in output
    with sqlite3.connect(folder / "kalan.db") as db:
        assert db.execute("select count(*) from t").fetchone() == (0,)


def test_an_upgrade_takes_over_a_folder_of_prometheus_clients_files_left_unmarked(
    tmp_path, monkeypatch
):
    """A version before the mark left its workers' files there: the start must not refuse."""
    folder = folder_with(tmp_path / "old", *WRITTEN)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    gunicorn_conf.on_starting(None)
    assert [p.name for p in folder.iterdir()] == [MARKER]
